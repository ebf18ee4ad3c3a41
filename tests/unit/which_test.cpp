// Unit tests of which: to be written.
