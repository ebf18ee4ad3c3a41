// Unit tests of changes: to be written.
