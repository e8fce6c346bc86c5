#!/usr/bin/env bash
# Build a local Debian base image with Python, for machines that cannot pull from a registry.
# The image stands in for python:3.x-slim: Dockerfiles take it through their BASE_IMAGE build argument.
# It is built once and cached by tag; the tag carries a digest of this script, so editing the recipe rebuilds it.
set -euo pipefail

suite="${BASE_IMAGE_SUITE:-bookworm}"
mirror="${BASE_IMAGE_MIRROR:-http://deb.debian.org/debian}"
packages="python3,python3-venv,python3-pip,python3-setuptools,python3-wheel,ca-certificates,tini"
recipe_digest="$(sha256sum "$0" | cut -c1-12)"
tag="${BASE_IMAGE_TAG:-nl2api-local/python:${suite}-${recipe_digest}}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

rootfs="$(mktemp -d /var/tmp/nl2api-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

echo "building $tag with debootstrap ($suite, minbase)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >&2
# Trim what a slim runtime image does not carry: package lists, docs, caches.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/*.log

tar -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --change "LABEL org.opencontainers.image.description=\"Debian ${suite} minbase with python3, built locally by nl2api-deploy\"" \
  - "$tag" >&2
echo "$tag"
