"""Words for synthetic sessions, distributed the way real conversations use them.

Real sessions share a common working vocabulary (test, file, error, function...) and each is
about one or two topics whose words appear nowhere else. Synthetic prose copies that shape: a
Zipf-weighted common vocabulary, the session's topic words mixed in, and rare identifiers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class Topic:
    """What a session is about. A question (`changes` False) is answered by reading code,
    never by changing it: such sessions stay without edits, as real ones do."""

    name: str
    prompts: tuple[str, ...]
    words: tuple[str, ...]
    changes: bool = True


@dataclass(frozen=True)
class SourceFile:
    """A project file sessions change: one line before and after (`{name}` is filled in),
    the line just above it, and where that pair sits in the file."""

    path: str
    language: str
    context: str
    before: str
    after: str
    line: int


TOPICS: tuple[Topic, ...] = (
    Topic(
        "Fix the flaky upload test",
        ("The upload test fails about one run in ten. Can you find out why it is flaky?",),
        ("flaky", "upload", "intermittent", "fixture", "retry", "multipart", "timeout"),
    ),
    Topic(
        "Add a dark mode toggle",
        ("Add a toggle in the settings page that switches between light and dark mode.",),
        ("dark", "mode", "theme", "toggle", "palette", "contrast", "prefers-color-scheme"),
    ),
    Topic(
        "Migrate the database to PostgreSQL",
        ("Migrate the SQLite database to PostgreSQL without losing data.",),
        ("migration", "migrate", "postgres", "schema", "alembic", "psycopg", "sequence"),
    ),
    Topic(
        "Refactor the auth middleware",
        ("The auth middleware checks tokens twice; refactor it into one place.",),
        ("auth", "middleware", "token", "jwt", "session", "refresh", "claims"),
    ),
    Topic(
        "Why does CI fail on Windows?",
        ("CI passes on Linux but fails on Windows with a path error. Why?",),
        ("windows", "backslash", "crlf", "powershell", "runner", "matrix", "drive"),
        changes=False,
    ),
    Topic(
        "Explain this commit",
        ("Explain what `git show --stat HEAD` prints here, file by file.",),
        ("commit", "diff", "stat", "hunk", "rebase", "cherry-pick", "blame"),
        changes=False,
    ),
    Topic(
        "Implement typing indicator component",
        ("Show a typing indicator while the other person is writing a message.",),
        ("typing", "indicator", "websocket", "presence", "debounce", "animation", "bubble"),
    ),
    Topic(
        "Ordering items by inserted_at date",
        ("Items should be ordered by inserted_at, newest first, with stable pagination.",),
        ("ordering", "inserted_at", "pagination", "cursor", "descending", "index", "keyset"),
    ),
    Topic(
        "Структура та налаштування бота",
        ("Почему тест падает только на CI? Налаштуй бота правильно.",),
        ("бот", "налаштування", "структура", "телеграм", "обробник", "aiogram", "polling"),
    ),
    Topic(
        "升级VitePress和PWA配置",
        ("请把发送按钮的圆形背景改成紫色 (#9333ea)\uff0c箭头保持白色。",),
        ("vitepress", "pwa", "配置", "升级", "manifest", "serviceworker", "紫色"),
    ),
    Topic(
        "Café menu rendering 🍰",
        ("Le menu du café n'affiche pas les accents correctement: « crème brûlée ».",),
        ("café", "menu", "accents", "crème", "brûlée", "unicode", "normalisation"),
    ),
    Topic(
        "Speed up the Docker build",
        ("The Docker image takes nine minutes to build. Make the layers cache properly.",),
        ("docker", "dockerfile", "layer", "cache", "buildkit", "multi-stage", "alpine"),
    ),
    Topic(
        "Add rate limiting to the API",
        ("Clients hammer the API. Add rate limiting with a clear Retry-After.",),
        ("ratelimit", "throttle", "bucket", "retry-after", "quota", "burst", "429"),
    ),
    Topic(
        "Undo and redo for layers",
        ("Undo on the layers panel undoes the wrong layer. Fix undo and redo.",),
        ("undo", "redo", "layers", "history", "snapshot", "canvas", "stack"),
    ),
    Topic(
        "Kubernetes deployment keeps restarting",
        ("The pod restarts every few minutes with exit code 137. What is going on?",),
        ("kubernetes", "pod", "oomkilled", "liveness", "probe", "helm", "replica"),
        changes=False,
    ),
    Topic(
        "Parse invoices from PDF",
        ("Extract totals and dates from these supplier invoices in PDF form.",),
        ("invoice", "pdf", "extract", "ocr", "totals", "supplier", "vat"),
    ),
    Topic(
        "Memory leak in the image cache",
        ("Memory grows by 50 MB an hour; I suspect the image cache. Find the leak.",),
        ("leak", "heap", "cache", "eviction", "lru", "profiler", "allocation"),
    ),
    Topic(
        "Write a GraphQL resolver",
        ("Write the resolver for `orders(customerId)` with batching to avoid N+1.",),
        ("graphql", "resolver", "dataloader", "batching", "n+1", "query", "mutation"),
    ),
    Topic(
        "Set up end-to-end tests with Playwright",
        ("Set up Playwright tests for sign-in and checkout that run in CI.",),
        ("playwright", "e2e", "browser", "selector", "screenshot", "headless", "checkout"),
    ),
    Topic(
        "Localize the app into German",
        ("Translate the UI into German and make plurals work.",),
        ("localize", "i18n", "german", "plural", "locale", "translation", "gettext"),
    ),
    Topic(
        "Cron job runs twice",
        ("The nightly cron job sometimes runs twice. Make it run exactly once.",),
        ("cron", "scheduler", "nightly", "idempotent", "lock", "duplicate", "lease"),
    ),
    Topic(
        "Stripe webhook signature fails",
        ("Stripe webhooks fail signature verification in production only.",),
        ("stripe", "webhook", "signature", "payload", "secret", "verification", "billing"),
    ),
    Topic(
        "Accessibility audit of the sign-up form",
        ("Audit the sign-up form for accessibility and fix what screen readers miss.",),
        ("accessibility", "aria", "screen", "reader", "label", "focus", "wcag"),
    ),
    Topic(
        "Port the CLI from argparse to click",
        ("Port the command-line interface from argparse to click, keeping every flag.",),
        ("argparse", "click", "cli", "flag", "subcommand", "option", "help"),
    ),
    Topic(
        "Search results are slow",
        ("Search takes two seconds on 10,000 rows. Make it fast.",),
        ("search", "fulltext", "ranking", "latency", "explain", "trigram", "relevance"),
    ),
    Topic(
        "Telegram bot with aiogram",
        ("Create a Telegram bot with aiogram that answers in the group chat.",),
        ("telegram", "aiogram", "handler", "dispatcher", "chat", "inline", "keyboard"),
    ),
    Topic(
        "Game loop stutters",
        ("The p5 sketch stutters every second; the game loop drops frames.",),
        ("frame", "sketch", "p5", "stutter", "vsync", "delta", "sprite"),
    ),
    Topic(
        "Encrypt backups at rest",
        ("Encrypt the nightly backups before they go to object storage.",),
        ("encrypt", "backup", "aes", "kms", "envelope", "restore", "bucket"),
    ),
    Topic(
        "Tidy the README",
        ("Tidy up the README: install steps, usage, and a short tutorial.",),
        ("readme", "tutorial", "install", "usage", "badge", "changelog", "docs"),
    ),
    Topic(
        "Type errors after upgrading TypeScript",
        ("After upgrading TypeScript we get 300 type errors. Sort them out.",),
        ("typescript", "generic", "narrowing", "tsconfig", "strict", "inference", "union"),
    ),
)

SOURCE_FILES: tuple[SourceFile, ...] = (
    SourceFile(
        "src/app.py", "python", "def total(items: list[str]) -> int:",
        "    return sum(items)", "    return sum(len(item) for item in items)  # {name}", 41,
    ),
    SourceFile(
        "web/components/Button.tsx", "tsx", "export function Button() {",
        '  return <button className="light">Go</button>;',
        '  return <button className="{name}">Go</button>;', 12,
    ),
    SourceFile(
        "internal/sync/engine.go", "go", "func (e *Engine) Run(ctx context.Context) error {",
        "\treturn e.step(ctx)", "\treturn e.{name}(ctx)", 88,
    ),
    SourceFile(
        "docs/README.md", "markdown", "## Usage", "Run `make` and open the app.",
        "Run `make {name}` and open the app.", 23,
    ),
    SourceFile(
        "/Users/dev/projects/demo/package.json", "json", '  "scripts": {',
        '    "test": "vitest run"', '    "test": "vitest run --reporter {name}"', 7,
    ),
    SourceFile(
        "tests/test_app.py", "python", "def test_total() -> None:",
        "    assert total([]) == 0", '    assert total(["{name}"]) == {length}', 5,
    ),
    SourceFile(
        "C:\\work\\app\\main.rs", "rust", "fn main() {", '    println!("ready");',
        '    println!("{name} ready");', 3,
    ),
)  # fmt: skip

# Common working vocabulary, most frequent first (weights follow Zipf's law).
_COMMON_TEXT = """the to a and of in is it that this for you with on be can we file i
    not are as so test will if function code now let me run error here check
    should use change see add from change value fix at line return new it's
    there by what when which update all one then make need also get an file's
    read output call name type step first data config issue just like look
    found but more works version path method class object case into because
    build than module import state user next string list only some any after
    other same time way still before again local default support handle set
    current both each empty without result option instead problem expected
    true false null number missing correct wrong simple better clean small
    log logs logging print debug trace warning message exception stack
    server client request response status header body json api endpoint
    database table column row query field key id record store save load
    component props render view page button form input event click style
    script command terminal shell directory folder package dependency
    install upgrade release tag branch merge main feature pull review
    environment variable setting secret token cache memory disk network
    thread async await promise callback loop queue timer interval delay
    parse format convert encode decode serialize validate sanitize escape
    array map filter reduce sort group count sum length size index slice
    start stop open close create delete remove rename move copy write
    succeeded failed passing failing green red done ready pending blocked
    assistant summary plan approach reason idea option tradeoff risk note
"""
COMMON: tuple[str, ...] = tuple(dict.fromkeys(_COMMON_TEXT.split()))
_COMMON_WEIGHTS = tuple(accumulate(1 / rank for rank in range(1, len(COMMON) + 1)))


def prose(rng: random.Random, words: int, topics: tuple[Topic, ...]) -> str:
    """A sentence-ish run of `words` words: mostly common words, some topic words, a rare one."""
    picked = rng.choices(COMMON, cum_weights=_COMMON_WEIGHTS, k=words)
    for position in range(0, words, 6):  # roughly one word in six is about the topic
        topic = topics[rng.randrange(len(topics))]
        picked[position] = rng.choice(topic.words)
    picked[rng.randrange(words)] = (
        f"{rng.choice(('item', 'ref', 'var', 'cfg'))}{rng.randrange(10**6)}"
    )
    return " ".join(picked).capitalize() + "."
