"""Git archive mode: commit exactly the paths a sync cycle wrote, moved or removed."""
