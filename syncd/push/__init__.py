"""Pushing selected sessions to PullStory: the client, the queue, the watcher.

The briefs themselves are built by `syncd.brief`, which knows nothing of pushing.
"""
