#!/bin/sh
# Installs the spaire-billing binary from a release archive, after checking the archive
# against its published SHA-256 checksum. Nothing is installed unless the checksum matches.
#
#   curl -LsSf <release>/install.sh | sh
#
# Environment (all optional):
#   SPAIRE_BILLING_INSTALL_DIR   where the binary goes (default: $HOME/.local/bin)
#   SPAIRE_BILLING_DOWNLOAD_URL  where the archives are (default: this release's assets)
#   SPAIRE_BILLING_TARGET        target triple to install (default: this machine's)
#
# The release workflow fills in VERSION and DOWNLOAD_URL (packaging/archive.py installer).
set -eu

VERSION="@VERSION@"
DEFAULT_DOWNLOAD_URL="@DOWNLOAD_URL@"

err() {
  printf 'error: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '%s\n' "$line" >&2; done
  exit 1
}

say() { printf '%s\n' "$1" >&2; }

# Sets $target to this machine's target triple.
detect_target() {
  os=$(uname -s)
  arch=$(uname -m)
  case "$arch" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) err "no spaire-billing build for the $arch processor" \
      "hint: install from npm (npx spaire-billing) or PyPI (pipx install spaire-billing), or build it with cargo" ;;
  esac
  case "$os" in
    Linux)
      # glibc systems get the -gnu build; Alpine and other musl systems the static -musl one.
      if ldd --version 2>&1 | grep -qi musl; then
        target="$arch-unknown-linux-musl"
      else
        target="$arch-unknown-linux-gnu"
      fi
      ;;
    Darwin)
      # A shell under Rosetta reports x86_64 on Apple silicon; the native build is better.
      if [ "$arch" = x86_64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || echo 0)" = 1 ]; then
        arch=aarch64
      fi
      target="$arch-apple-darwin"
      ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT)
      err "this installer is for Linux and macOS" \
        "hint: on Windows, download spaire-billing-x86_64-pc-windows-msvc.zip from the release, or run: npx spaire-billing" ;;
    *) err "no spaire-billing build for $os" \
      "hint: install from npm (npx spaire-billing) or PyPI (pipx install spaire-billing), or build it with cargo" ;;
  esac
}

download() {
  # download URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl --fail --location --silent --show-error --output "$2" "$1" ||
      err "could not download $1" "hint: check the network, or set SPAIRE_BILLING_DOWNLOAD_URL to where the release archives are"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --output-document="$2" "$1" ||
      err "could not download $1" "hint: check the network, or set SPAIRE_BILLING_DOWNLOAD_URL to where the release archives are"
  else
    err "neither curl nor wget is installed" "hint: install one of them and run the installer again"
  fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    # Refuse rather than install an archive nobody checked.
    err "cannot check the download: neither sha256sum nor shasum is installed" \
      "hint: install coreutils (sha256sum) or perl's shasum and run the installer again"
  fi
}

main() {
  download_url="${SPAIRE_BILLING_DOWNLOAD_URL:-$DEFAULT_DOWNLOAD_URL}"
  case "$download_url" in
    @*) err "this is the unreleased installer template: it has no download URL" \
      "hint: use the install.sh attached to a release, or set SPAIRE_BILLING_DOWNLOAD_URL" ;;
  esac
  if [ -n "${SPAIRE_BILLING_TARGET:-}" ]; then
    target="$SPAIRE_BILLING_TARGET"
  else
    detect_target
  fi
  install_dir="${SPAIRE_BILLING_INSTALL_DIR:-${HOME:?set HOME or SPAIRE_BILLING_INSTALL_DIR}/.local/bin}"
  archive="spaire-billing-$target.tar.gz"

  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT TERM

  say "downloading spaire-billing $VERSION for $target"
  download "$download_url/$archive" "$tmp/$archive"
  download "$download_url/$archive.sha256" "$tmp/$archive.sha256"

  expected=$(cut -d ' ' -f 1 <"$tmp/$archive.sha256")
  actual=$(sha256 "$tmp/$archive")
  case "$expected" in
    *[!0-9a-f]* | "") err "$archive.sha256 is not a SHA-256 checksum" \
      "hint: the release may be incomplete; nothing was installed" ;;
  esac
  if [ "$expected" != "$actual" ]; then
    err "checksum mismatch for $archive: nothing was installed" \
      "Caused by: expected sha256 $expected, the download has $actual" \
      "hint: run the installer again; if it keeps failing, the release or the download was tampered with"
  fi
  say "checksum verified (sha256 $actual)"

  tar -xzf "$tmp/$archive" -C "$tmp" || err "could not unpack $archive" "hint: nothing was installed"
  binary="$tmp/spaire-billing-$target/spaire-billing"
  [ -f "$binary" ] || err "$archive has no spaire-billing binary" "hint: the release is broken; nothing was installed"

  mkdir -p "$install_dir" || err "cannot create $install_dir" "hint: set SPAIRE_BILLING_INSTALL_DIR to a directory you can write"
  # Copy next to the destination, then rename: a running or half-copied binary is never left behind.
  staged="$install_dir/.spaire-billing.tmp.$$"
  if ! { cp "$binary" "$staged" && chmod 755 "$staged" && mv -f "$staged" "$install_dir/spaire-billing"; }; then
    rm -f "$staged"
    err "cannot write to $install_dir" "hint: set SPAIRE_BILLING_INSTALL_DIR to a directory you can write"
  fi

  installed=$("$install_dir/spaire-billing" --version) ||
    err "the installed $install_dir/spaire-billing does not run" "hint: check that $target is right for this machine (SPAIRE_BILLING_TARGET)"
  say "installed $installed to $install_dir/spaire-billing"
  case ":${PATH:-}:" in
    *":$install_dir:"*) ;;
    *) say "hint: $install_dir is not on your PATH; add it, e.g.: export PATH=\"$install_dir:\$PATH\"" ;;
  esac
}

main "$@"
