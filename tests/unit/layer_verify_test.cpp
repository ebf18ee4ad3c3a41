// Unit tests of layer_verify: to be written.
