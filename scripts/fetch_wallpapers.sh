#!/usr/bin/env bash
# Fetch real photographs from Debian wallpaper packages, as backgrounds for `corpusforge make-image-benchmark`.
#
# Downloads (apt-get download: no install, no root needed) a few small wallpaper packages (~76 MB in all),
# extracts their JPEG/PNG files into a cache dir and keeps the photo-sized ones.
# The generator also works without them: scikit-image's bundled photos are always used as well.
#
# usage: scripts/fetch_wallpapers.sh [CACHE_DIR]     (default: ~/.cache/corpusforge/wallpapers)
# Licences: each package's copyright file is copied next to its images (CACHE_DIR/<package>/copyright).
set -euo pipefail

CACHE="${1:-${CORPUSFORGE_WALLPAPERS:-$HOME/.cache/corpusforge/wallpapers}}"
# Small packages holding photographs (gnome-backgrounds is mostly abstract art; plasma's is 94 MB).
PACKAGES=(mate-backgrounds lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)
MIN_BYTES=20000   # skip icons and thumbnails

mkdir -p "$CACHE"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"

got=0
for pkg in "${PACKAGES[@]}"; do
  if [ -f "$CACHE/$pkg/.done" ]; then
    echo "cached: $pkg"; got=$((got + 1)); continue
  fi
  if ! apt-get download "$pkg" >/dev/null 2>&1; then
    echo "warning: apt-get download $pkg failed (run 'apt-get update' first?); skipping" >&2
    continue
  fi
  deb="$(ls -1 "${pkg}"_*.deb | head -n1)"
  mkdir -p "x_$pkg" "$CACHE/$pkg"
  dpkg-deb -x "$deb" "x_$pkg"
  n=0
  while IFS= read -r -d '' f; do
    size=$(stat -c %s "$f")
    [ "$size" -ge "$MIN_BYTES" ] || continue
    name="$(basename "$f")"
    cp "$f" "$CACHE/$pkg/$name"
    n=$((n + 1))
  done < <(find "x_$pkg" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) -print0)
  cp "x_$pkg/usr/share/doc/$pkg/copyright" "$CACHE/$pkg/copyright" 2>/dev/null || true
  rm -rf "x_$pkg" "$deb"
  touch "$CACHE/$pkg/.done"
  echo "$pkg: $n images"
  got=$((got + 1))
done

echo "wallpapers in $CACHE: $(find "$CACHE" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | wc -l) files, $(du -sh "$CACHE" | cut -f1)"
[ "$got" -gt 0 ] || { echo "no wallpaper package could be fetched; the generator falls back to scikit-image photos" >&2; exit 1; }
