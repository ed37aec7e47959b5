#!/bin/sh
# Container entry point: optional CA bundle download (upstream's CA_URL), then the server.
set -eu
if [ -n "${CA_URL:-}" ]; then
    bundle="${TMPDIR:-/tmp}/omps-ca.pem"
    curl --fail --silent --show-error --max-time 30 --output "$bundle" "$CA_URL"
    export OMPS_CA_BUNDLE="$bundle"
fi
exec /usr/local/bin/omps-server "$@"
