"""What each command does: one function per command, shared by `syncd sync`, `run`,
`push`, `status` and the browsing commands.

The CLI parses options, calls one of these and prints what it returns; these open the
root, build the daemon's machinery and run it. They print nothing: what a user should
see while work goes on reaches the CLI through a `say` or `progress` callback.
"""
