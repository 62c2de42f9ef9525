"""Tasks: Python work started by the controller as a thread, on the main thread, as a process or as a coroutine."""
