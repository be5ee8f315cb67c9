"""Pushing selected sessions to PullStory: briefs, the client, the queue, the watcher."""
