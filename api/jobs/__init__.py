"""Jobs: submit, read, list, cancel, wait on and stream any job; the live-event hub."""
