"""Pure drawing primitives (numpy RGB arrays, no pygame): raster operations and sprites, the
shared palette and the 2D arena. Each family's own drawing lives in its family module."""
