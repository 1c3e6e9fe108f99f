"""Pictures of what cellctl does: state-machine diagrams (and, later, overlays, recordings and plots)."""
