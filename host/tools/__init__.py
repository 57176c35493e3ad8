"""The external tools crossbox drives: the one runner, the podman and skopeo facades,
and the pure builders of their argument lists."""
