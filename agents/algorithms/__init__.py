"""Training algorithms, one file each; `registry` lists them and `trainer` runs them."""
