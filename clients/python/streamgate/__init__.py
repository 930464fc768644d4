"""Generated streamgate stubs (see scripts/gen-protos.sh)."""
