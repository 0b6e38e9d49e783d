"""Container image build, smoke test and Kubernetes manifests."""
