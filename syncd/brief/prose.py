"""What the agent's own words say it changed (corpus FORMAT.md, section 7).

Producers without edit tools still say what they change, in prose next to the code: "Now
I'll add the helpers to `drawing-utils.js`:" before a code block (old Copilot, often an
empty one), "Let's update the pwa.ts file:" before a pathless diff (early Cursor), "Created
`README.md` with:" in a closing summary, "已在 `CHANGELOG.md` 记录变更". One prose line at a
time, in English, Chinese, Spanish, Portuguese, Ukrainian and Russian:

- an *intent* (a change verb in the present or future, then a file) counts only when a code
  block follows it before any other prose (a short list may come between): the block is
  the change;
- a *claim* (a change verb in the past at the start of a sentence, or "`X` has been
  updated") counts by itself;
- a line that introduces a list of changed files ("Files modified:") makes a claim of the
  first file of each list item under it.

A file after a verb that changes nothing ("check", "read", "look at"), after a word that
makes it a source or a subject ("tests for `a.py`", "built from `b.yaml`"), in a question,
in a negated or conditional sentence, or in a user's request is never an edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from syncd.brief.paths import language_for, looks_like_file
from syncd.brief.tools import CREATED, EDITED, Named

# A code block may follow its announcement after a short list of what will change; any
# other prose in between ends the announcement.
INTENT_REACH = 6

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[\u3002\uff01\uff1f\uff1b])")
_LEAD = re.compile(r"^[^\w`\[]+")  # list marks, bold, emoji, check marks before the verb
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")
_BARE = re.compile(
    r"(?<![\w/\\`@.:-])((?:~?/)?(?:[\w.-]+[/\\])*\.?[\w-][\w.-]*\.[A-Za-z][A-Za-z0-9]{0,9}"
    r"|README|CHANGELOG|Dockerfile|Makefile|Gemfile|Justfile|Procfile|Rakefile)(?![\w/\\-])"
)
_WELL_KNOWN = frozenset(
    {"README", "CHANGELOG", "Dockerfile", "Makefile", "Gemfile", "Justfile", "Procfile", "Rakefile"}
)
# Product names that look like JavaScript files in running text.
_NOT_BARE_FILES = frozenset(
    {"next.js", "node.js", "vue.js", "nuxt.js", "react.js", "three.js", "p5.js", "d3.js",
     "chart.js", "express.js", "ember.js", "angular.js", "backbone.js", "alpine.js",
     "nest.js", "socket.io", "deno.land", "solid.js", "htmx.js"}
)  # fmt: skip
_DOTFILE = re.compile(
    r"^\.(?:env|git\w*|docker\w*|npm\w*|nvm\w*|editorconfig|htaccess|flake8|prettier\w*"
    r"|eslint\w*|babel\w*|\w+rc|\w*ignore|profile|mailmap|tool-versions|python-version)$",
    re.I,
)
# What may stand between two files of one list: a comma, "and" in the languages above
# (\u0456 is Ukrainian "and").
_ENUMERATION = re.compile(
    r"^\s*(?:,|&|\+|and|or|y|e|和|与|及|、|\u0456|и|та)?\s*(?:the\s+)?$", re.I
)

_EN_VERB = (
    "add|update|create|modify|edit|change|fix|write|rewrite|refactor|replace|implement|"
    "insert|append|patch|adjust|extend|amend|remove|delete|tweak|correct|overwrite|simplify"
)
_EN_PAST = (
    "added|updated|created|modified|edited|changed|fixed|rewrote|rewritten|refactored|"
    "replaced|implemented|inserted|appended|patched|adjusted|extended|amended|removed|"
    "deleted|tweaked|corrected|overwrote|overwritten|simplified|wrote|written|generated"
)
_CREATE_WORDS = re.compile(
    r"^(?:creat|wr[io]t|generat|cre[aéó]|cri|创建|新建|新增|створ|созда)", re.I
)
_INTENTS = (
    re.compile(
        r"(?:\bI'll|\bI will|\bI'm going to|\bI am going to|\blet me|\blet's|\blet us|\bwe'll"
        r"|\bwe will|\bI need to|\bwe need to|\bI'd)\s+(?:(?:also|now|then|first|quickly|just"
        rf"|next|go ahead and)\s+)*({_EN_VERB})\b",
        re.I,
    ),
    re.compile(
        r"(?:让我|我来|我将|我会|现在|接下来|下面|然后|首先)[^\u3002\uff01\uff1f\n]{0,10}?"
        r"(修改|更新|创建|新建|添加|编辑|重写|修复|调整|替换)"
    ),
    re.compile(
        r"\b(?:voy a|vamos a|vou|vamos)\s+(actualizar|modificar|crear|añadir|agregar|editar"
        r"|corregir|reescribir|cambiar|atualizar|criar|adicionar|alterar|reescrever)\b",
        re.I,
    ),
    re.compile(
        r"(?<!\w)(оновлю|створю|зміню|додам|виправлю|обновлю|создам|изменю|добавлю|исправлю)"
        r"(?!\w)",
        re.I,
    ),
)
# An imperative at the start of a line that introduces a code block ("Update `a.js`:").
_IMPERATIVE = re.compile(
    rf"^(?:(?:now|next|then|first|finally|also|step \d+)[,:]?\s+)*({_EN_VERB})\b.*:$", re.I
)
_CLAIMS = (
    re.compile(
        r"^(?:(?:I|we)(?:'ve| have)?\s+(?:(?:also|now|just|successfully|then)\s+)*"
        rf"|successfully\s+)?({_EN_PAST})\b",
        re.I,
    ),
    re.compile(
        r"^(?:(?:he|hemos)\s+(?:\w+\s+)?(actualizado|modificado|creado|añadido|agregado"
        r"|editado|corregido|reescrito|cambiado)|(actualicé|modifiqué|creé|añadí|agregué|edité"
        r"|corregí|reescribí|cambié|atualizei|modifiquei|criei|adicionei|editei|corrigi|alterei"
        r"|reescrevi|actualizado|modificado|creado|atualizado|criado|alterado))(?!\w)",
        re.I,
    ),
    re.compile(
        r"^(оновив|оновила|оновлено|створив|створила|створено|змінив|змінила|змінено|додав"
        r"|додала|додано|виправив|виправлено|обновил|обновлено|создал|создано|изменил"
        r"|изменено|добавил|добавлено|исправил|исправлено)(?!\w)",
        re.I,
    ),
)
_ZH_CLAIM = re.compile(
    r"(?:已经?|成功)[^\u3002\uff01\uff1f\n]{0,40}?(修改|更新|创建|新建|添加|新增|记录|改为|改成"
    r"|替换|移除|删除|修复|编写|写入|重构|调整|实现)|(修改|更新|创建|新建|添加|新增|删除|修复|重构"
    r"|调整)了"
)
_PASSIVE = re.compile(
    r"^\s*(?:file\s+)?(?:has been|have been|was|were|is now|are now|ha sido|fue|han sido"
    r"|fueron|foi|foram)\s+(?:(?:successfully|also|now|correctly|correctamente|com sucesso)\s+)?"
    rf"({_EN_PAST}|actualizad[oa]s?|modificad[oa]s?|cread[oa]s?|atualizad[oa]s?|criad[oa]s?"
    r"|alterad[oa]s?|corregid[oa]s?|corrigid[oa]s?)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:not|never|no|without|nothing)\b|n't\b|没有|未|不", re.I)
_CONDITIONAL = re.compile(r"^(?:if|when|once|after|before|unless|si|se|якщо|если)\b", re.I)
_CHANGE_LIST = re.compile(
    r"^(?:(?:files?|archivos?|arquivos?)\s+(?:de código\s+)?(?:changed|modified|updated|created"
    r"|edited|added|touched|modificados|creados|actualizados|tocados|criados|alterados)"
    r"|(?:changed|modified|updated|created|edited|new|added|touched)\s+files?|changes made"
    r"|修改的文件|新增的?文件|创建的文件|修改文件|变更文件|改动文件)\b[^:]{0,30}:?$",
    re.I,
)
# A file after these words is what the change is about or made from, not what changed.
_NOT_THE_TARGET = re.compile(
    r"\b(?:for|from|using|against|like|via|than|by|based on|para|desde|com base em|для|з|из)"
    r"\s+(?:the\s+|a\s+|an\s+)?$",
    re.I,
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_SHELL_INFOS = frozenset({"bash", "sh", "shell", "zsh", "console", "powershell", "ps1", "cmd",
                          "bat", "terminal", "fish"})  # fmt: skip
_NOT_CODE_INFOS = frozenset({"text", "txt", "output", "log", "plaintext", "plain"})
_PLACEHOLDER = re.compile(r"^\s*(?://|#|<!--|/\*|--|;)?\s*\.{3}\s*existing code\s*\.{3}", re.I)


@dataclass(frozen=True)
class Ref:
    """A file a prose line names, and where: `start`/`end` are offsets in the sentence."""

    path: str
    start: int
    end: int


def file_refs(sentence: str) -> list[Ref]:
    """The files a sentence names, in order: backticked names, Markdown links to files,
    and bare names with a known extension (`pwa.ts`) or a well-known name (`README`)."""
    refs: list[Ref] = []
    taken: list[tuple[int, int]] = []
    for match in _BACKTICKED.finditer(sentence):
        taken.append(match.span())
        word = match.group(1).strip().strip("*")
        if looks_like_file(word) and _not_a_member(word):
            refs.append(Ref(word, *match.span()))
    for match in _LINK.finditer(sentence):
        if _inside(match.start(), taken):
            continue
        taken.append(match.span())
        target, text = match.group(2), match.group(1).strip("`")
        if "://" in target and not target.lower().startswith("file:"):
            continue
        if target.lower().startswith("file:") or looks_like_file(target):
            refs.append(Ref(target, *match.span()))
        elif looks_like_file(text):
            refs.append(Ref(text, *match.span()))
    for match in _BARE.finditer(sentence):
        word = match.group(1)
        if _inside(match.start(), taken) or word.lower() in _NOT_BARE_FILES:
            continue
        if word in _WELL_KNOWN or (
            looks_like_file(word) and _plausible_bare(word) and _not_a_member(word)
        ):
            refs.append(Ref(word, *match.span()))
    return sorted(refs, key=lambda ref: ref.start)


def claims(line: str) -> list[Named]:
    """The files one prose line says were changed (see the module docstring)."""
    found: list[Named] = []
    for sentence in _sentences(line):
        if sentence.rstrip().endswith(("?", "\uff1f")):
            continue
        refs = file_refs(sentence)
        if not refs:
            continue
        found.extend(_passive(sentence, refs))
        claim = _claim(sentence)
        if claim is not None:
            verb, start = claim
            role = CREATED if _CREATE_WORDS.match(verb) else EDITED
            after = [ref for ref in refs if ref.start >= start]
            found.extend(Named(ref.path, role) for ref in _first_run(sentence, after))
    return found


def changed_list(line: str) -> str | None:
    """The role of the files listed after `line` when it introduces a list of changed files
    ("Files modified:", "### Files created", "**Changes made:**"), else None."""
    text = _LEAD.sub("", line).replace("*", "").replace("_", " ").strip()
    match = _CHANGE_LIST.match(text)
    if match is None:
        return None
    return CREATED if re.search(r"creat|new|add|cread|criad|新增|创建", text, re.I) else EDITED


def listed_file(line: str, role: str) -> Named | None:
    """The first file of one item of a list of changed files."""
    if not _LIST_ITEM.match(line):
        return None
    refs = file_refs(line)
    return Named(refs[0].path, role) if refs else None


def intents(line: str) -> list[Named]:
    """The files one prose line announces it will change, before the code that does it."""
    for sentence in _sentences(line):
        refs = file_refs(sentence)
        if not refs or sentence.rstrip().endswith(("?", "\uff1f")):
            continue
        for pattern in _INTENTS:
            match = pattern.search(sentence)
            if match is None or _NEGATION.search(sentence[: match.start(1)]):
                continue
            after = [ref for ref in refs if ref.start >= match.end()]
            if not after and _is_cjk(match.group(1)):
                after = refs  # 让我在 `a.py` 中修改: the file may come before the verb
            role = CREATED if _CREATE_WORDS.match(match.group(1)) else EDITED
            named = [Named(ref.path, role) for ref in _first_run(sentence, after)]
            if named:
                return named
        text = _LEAD.sub("", sentence).strip()
        imperative = _IMPERATIVE.match(text)
        if imperative:
            role = CREATED if _CREATE_WORDS.match(imperative.group(1)) else EDITED
            return [Named(ref.path, role) for ref in _first_run(sentence, refs)]
    return []


def is_code_for(info: str, path: str) -> bool:
    """Whether a code block with this info string can be the content of `path`: not a
    shell session (unless the file is a script) and not program output."""
    word = (info or "").split(" ")[0].strip().lower()
    if word in _NOT_CODE_INFOS:
        return False
    if word in _SHELL_INFOS:
        return language_for(path) in ("bash", "zsh", "fish", "powershell")
    return True


def without_placeholders(lines: list[str]) -> list[str]:
    """A code block's lines without Copilot's `...existing code...` markers; empty for an
    empty block (Copilot's rendering of an edit whose code it did not keep)."""
    return [line for line in lines if not _PLACEHOLDER.match(line)]


class ProseReader:
    """The agent's prose, line by line: claims at once, intents until code takes them."""

    def __init__(self) -> None:
        self.intent: list[Named] = []
        self.mention: str | None = None
        self.reach = 0
        self.used = False
        self.listing: str | None = None

    def reset(self) -> None:
        """Forget announcements: a user turn or a tool call comes between them and code."""
        self.intent, self.mention, self.reach, self.used, self.listing = [], None, 0, False, None

    def line(self, stripped: str) -> list[Named]:
        """Read one prose line of an agent turn; returns the files it claims were changed."""
        if not stripped:
            return []
        if self.listing is not None:
            item = listed_file(stripped, self.listing)
            if item is not None:
                return [item]
            if not _LIST_ITEM.match(stripped):
                self.listing = None
        self.listing = changed_list(stripped) or self.listing
        announced = intents(stripped)
        if announced:
            self.intent, self.mention, self.reach, self.used = announced, None, 0, False
        else:
            listed = bool(_LIST_ITEM.match(stripped))
            if self.used or self.reach >= INTENT_REACH or not listed:
                self.intent, self.mention, self.reach, self.used = [], None, 0, False
            self.reach += 1
            quoted = [ref.path for ref in file_refs(stripped) if stripped[ref.start] == "`"]
            self.mention = quoted[-1] if quoted else self.mention
        return claims(stripped)

    def code(self, info: str, lines: list[str]) -> list[Named]:
        """The files a code block in the agent's prose changes: those just announced, or
        for a pathless diff the file last named in the prose before it."""
        diff = info.split(" ")[0].lower() in ("diff", "patch")
        if self.intent:
            targets = [n for n in self.intent if diff or is_code_for(info, n.raw)]
        elif diff and self.mention is not None:
            targets = [Named(self.mention, EDITED)]
        else:
            return []
        if targets:
            self.used = True
        return targets


def _sentences(line: str) -> list[str]:
    return [part for part in _SENTENCE.split(line) if part.strip()]


def _claim(sentence: str) -> tuple[str, int] | None:
    """The past-tense change verb a sentence opens with, and where its files may start."""
    text = _LEAD.sub("", sentence)
    if _CONDITIONAL.match(text):
        return None
    offset = len(sentence) - len(text)
    for pattern in _CLAIMS:
        match = pattern.match(text)
        if match and match.lastindex:
            return match.group(match.lastindex), offset + match.end()
    chinese = _ZH_CLAIM.search(sentence)
    if chinese and not _NEGATION.search(sentence[: chinese.start()]):
        verb = next(group for group in chinese.groups() if group)
        return verb, 0  # 已在 `CHANGELOG.md` 记录变更: the file may come before the verb
    return None


def _passive(sentence: str, refs: list[Ref]) -> list[Named]:
    found = []
    for ref in refs:
        match = _PASSIVE.match(sentence[ref.end :])
        if match:
            role = CREATED if _CREATE_WORDS.match(match.group(1)) else EDITED
            found.append(Named(ref.path, role))
    return found


def _first_run(sentence: str, refs: list[Ref]) -> list[Ref]:
    """The first file that is a target, and those enumerated right after it (`a.py`,
    `b.py` and `c.py`)."""
    refs = [ref for ref in refs if not _NOT_THE_TARGET.search(sentence[: ref.start])]
    if not refs:
        return []
    run = [refs[0]]
    for ref in refs[1:]:
        if not _ENUMERATION.match(sentence[run[-1].end : ref.start]):
            break
        run.append(ref)
    return run


def _not_a_member(word: str) -> bool:
    """False for `.simple_form`, `.form`: a leading dot with no extension after it is a
    member or a component in prose; dotfiles have a known shape (`.env`, `.eslintrc`)."""
    name = re.split(r"[/\\]", word)[-1]
    if not name.startswith(".") or "." in name[1:]:
        return True
    return bool(_DOTFILE.match(name))


def _plausible_bare(word: str) -> bool:
    """A bare word is a file when it has a folder or an extension of two letters or more
    (`a.c` alone is too often an abbreviation: "9 a.m.")."""
    return "/" in word or "\\" in word or len(word.rsplit(".", 1)[1]) >= 2


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)
