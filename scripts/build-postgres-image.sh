#!/usr/bin/env bash
# Build a local PostgreSQL 17 + pgvector image, for machines that cannot pull from a registry.
# It stands in for pgvector/pgvector:pg17 in the functional tests and is the base of the nl2api-migrations image
# (it has psql). Debian trixie minbase from the Debian mirror, Debian's postgresql-17 and postgresql-17-pgvector,
# and our entrypoint (docker/postgres/entrypoint.sh). The postgres account has uid/gid 10001, as the chart runs
# the pods, and the image runs as that uid by default.
# Built once and cached by tag; the tag carries a digest of this script and of the entrypoint, so editing
# either rebuilds it. Prints only the tag on stdout; progress goes to stderr.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
entrypoint="$repo_root/docker/postgres/entrypoint.sh"
suite="trixie"
major="17"
mirror="${POSTGRES_IMAGE_MIRROR:-http://deb.debian.org/debian}"
app_uid="10001"
recipe_digest="$(cat "${BASH_SOURCE[0]}" "$entrypoint" | sha256sum | cut -c1-12)"
tag="${POSTGRES_IMAGE_TAG:-nl2api-local/postgres:${major}-pgvector-${recipe_digest}}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

rootfs="$(mktemp -d /var/tmp/nl2api-pg-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

in_chroot() {
  chroot "$rootfs" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive "$@"
}

echo "building $tag with debootstrap ($suite, minbase) and postgresql-$major" >&2
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >&2

# The account exists before the packages are installed, so postgresql-common adopts it instead of picking the
# next free system uid, and every file the packages create belongs to 10001 from the start.
in_chroot groupadd --gid "$app_uid" postgres
in_chroot useradd --uid "$app_uid" --gid "$app_uid" --home-dir /var/lib/postgresql --no-create-home \
  --shell /usr/sbin/nologin --comment "PostgreSQL administrator" postgres
# No cluster at install time (the entrypoint runs initdb on the data volume) and no services started in the chroot.
mkdir -p "$rootfs/etc/postgresql-common/createcluster.d"
echo "create_main_cluster = false" >"$rootfs/etc/postgresql-common/createcluster.d/nl2api.conf"
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

in_chroot apt-get update >&2
in_chroot apt-get install --yes --no-install-recommends "postgresql-$major" "postgresql-$major-pgvector" >&2

# JIT compilation goes: LLVM and its bitcode are 60% of the image, and PostgreSQL silently runs without JIT when
# llvmjit.so is absent. dpkg then records postgresql-17's dependency on libllvm19 as unmet: a Dockerfile FROM this
# image that runs apt-get must reinstall libllvm19 first.
rm -rf "$rootfs/usr/lib/postgresql/$major/lib/llvmjit.so" "$rootfs/usr/lib/postgresql/$major/lib/llvmjit_types.bc" \
  "$rootfs/usr/lib/postgresql/$major/lib/bitcode"
in_chroot dpkg --purge --force-depends libllvm19 libz3-4 >&2

# Trim what a server image does not need: package lists, docs, caches, locale sources (C.UTF-8 is built into
# glibc), the build-time policy, and the snakeoil key ssl-cert generated (a private key baked into an image is
# shared by everyone who pulls it; TLS certificates are mounted at run time).
in_chroot apt-get clean
rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/ssl/private/ssl-cert-snakeoil.key" \
  "$rootfs/etc/ssl/certs/ssl-cert-snakeoil.pem"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
  "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/i18n/* "$rootfs"/run/adduser \
  "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs/etc/postgresql/$major" "$rootfs/var/lib/postgresql/$major"

# Writable places at run time: the data volume's mount point (PGDATA is a subdirectory of it, so a volume's
# lost+found does not trip initdb) and the socket directory, where the chart mounts an emptyDir. That one is
# sticky and world-writable like /tmp: Docker gives a tmpfs mounted over it (`--tmpfs /var/run/postgresql` with
# a read-only root) this directory's mode but root's ownership.
install -d -o "$app_uid" -g "$app_uid" -m 0755 "$rootfs/var/lib/postgresql"
install -d -o "$app_uid" -g "$app_uid" -m 0700 "$rootfs/var/lib/postgresql/data"
install -d -o "$app_uid" -g "$app_uid" -m 1777 "$rootfs/run/postgresql"
install -o root -g root -m 0755 "$entrypoint" "$rootfs/usr/local/bin/nl2api-postgres"

tar -C "$rootfs" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change 'ENV PGDATA=/var/lib/postgresql/data/pgdata' \
  --change 'WORKDIR /var/lib/postgresql' \
  --change 'EXPOSE 5432' \
  --change "USER $app_uid:$app_uid" \
  --change 'ENTRYPOINT ["/usr/local/bin/nl2api-postgres"]' \
  --change "LABEL org.opencontainers.image.description=\"PostgreSQL $major with pgvector on Debian $suite, built locally by nl2api-deploy\"" \
  - "$tag" >&2
echo "$tag"
