"""Authoring: changing profiles and starting repositories.

`set` edits one value in place with comments kept (set, editing, keypaths);
`init` writes a new config repository from the package's data (scaffold).
"""
