"""The integer cell rule, the project's core: its constants (spec), update schedule (schedule),
model file (modelfile, npzfile), integer model on CPU or CUDA (intmodel), the lines a board
prints (boardlines), pictures of grids (pictures), the one text escaper (plaintext) and the
repository's files and build cache (files). Every other package imports from here; this
package imports from none of them."""
