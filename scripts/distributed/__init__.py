"""Past one machine: the MPI measurements (measure_distributed.sh) and the alpha-beta scaling model
fitted to them (scaling_model.py; the report's distributed and network sections use its parts)."""
