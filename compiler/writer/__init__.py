"""The writer of out/: what is there (emit), what should change (manifest), and moving the
bytes all or nothing, with stop signals held (publish). Nothing here renders or resolves."""
