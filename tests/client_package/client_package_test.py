#!/usr/bin/env python3
"""The installed device library works for a device maker (issue 13; docs/client.md, "Installed").

1. Configures this source tree with OUTPOST_CLIENT_ONLY=ON in a fresh build directory, with
   every dependency the client must not need (SQLite3, spdlog, CLI11, tomlplusplus, mimalloc,
   GTest) disabled so that a REQUIRED lookup of one fails, and checks that none was even looked
   up; builds it (nothing of the satellite, central or CLI) and installs component `client`
   into a temporary prefix.
2. Checks what was installed: exactly the client's headers and the project headers they
   include (generated .pb.h too), one static archive, the OutpostClient CMake package and
   outpost-client.pc. Then removes the build directory: the package must not point into it.
3. Compiles every installed header in one translation unit with only the installed include
   directory; builds client/example (a copy, in a separate CMake project, Boost lookups
   disabled) with find_package(OutpostClient); compiles it once more with pkg-config's flags.
4. Starts a real satellite (the `outpost` binary: central, enrollment, one offline sync with a
   license, `outpost serve`), creates registration tokens with the CLI, and runs both builds of
   the example: each must register, get a verified AUTHORIZED answer for the tag and release,
   which the satellite's audit trail must show.

    client_package_test.py --source-dir DIR --outpost BINARY [--cxx COMPILER] [--generator G]

The compiler runs through ccache when ccache is installed. CLIENT_PACKAGE_KEEP=1 keeps the
temporary directory.
"""
import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "journeys"))
import harness  # noqa: E402  (the journeys' way to run a central and a satellite)

# What the device library must not need (root CMakeLists.txt, OUTPOST_CLIENT_ONLY).
FORBIDDEN_PACKAGES = ("SQLite3", "spdlog", "CLI11", "tomlplusplus", "mimalloc", "GTest")
TAG = "regid.2026-01.com.example.fw.base"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
STEP_TIMEOUT_S = 900


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def run(argv, what, env=None, cwd=None, timeout=STEP_TIMEOUT_S):
    """Runs a command that must succeed; returns its CompletedProcess (text output)."""
    argv = [str(a) for a in argv]
    started = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                        timeout=timeout, stdin=subprocess.DEVNULL)
    print(f"-- {what}: {time.monotonic() - started:.1f} s")
    if cp.returncode != 0:
        raise Failure(f"{what} failed (exit {cp.returncode}): {shlex.join(argv)}\n"
                      f"--- stdout ---\n{cp.stdout[-6000:]}\n--- stderr ---\n{cp.stderr[-6000:]}")
    return cp


def build_env():
    """The environment for compilers: ccache keys on paths relative to the working directory
    below CCACHE_BASEDIR, so a fresh temporary directory of the same depth hits the cache."""
    env = dict(os.environ)
    env["CCACHE_BASEDIR"] = "/"
    return env


def configure_build_install(args, tmp, launcher):
    build, prefix = tmp / "build", tmp / "prefix"
    argv = ["cmake", "-S", args.source_dir, "-B", build, "-G", args.generator,
            "-DOUTPOST_CLIENT_ONLY=ON",
            f"-DCMAKE_CXX_COMPILER={args.cxx}"]
    argv += [f"-DCMAKE_DISABLE_FIND_PACKAGE_{p}=ON" for p in FORBIDDEN_PACKAGES]
    if launcher:
        argv.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={launcher}")
    cp = run(argv, "configure with OUTPOST_CLIENT_ONLY=ON", env=build_env())
    # CMake names the CMAKE_DISABLE_FIND_PACKAGE_<P> it never read: no find_package(<P>), not
    # even an optional one, ran.
    unused = cp.stderr[cp.stderr.find("Manually-specified variables were not used"):]
    for package in FORBIDDEN_PACKAGES:
        check(f"CMAKE_DISABLE_FIND_PACKAGE_{package}" in unused,
              f"the client-only configuration looked up {package}:\n{cp.stderr}")

    run(["cmake", "--build", build, "-j", "2"], "build the client-only configuration",
        env=build_env())
    for layer in ("server", "sync", "cli", "tests"):
        check(not (build / layer).exists(),
              f"the client-only configuration configured {layer}/ ({build / layer} exists)")

    run(["cmake", "--install", build, "--prefix", prefix, "--component", "client"],
        "install component client")
    return build, prefix


def check_installed(source_dir, prefix):
    """Exactly the client's headers and their project includes, one archive, the CMake package
    and the .pc file; returns the installed headers (paths below the include directory)."""
    files = sorted(p.relative_to(prefix).as_posix() for p in prefix.rglob("*") if p.is_file())
    include = prefix / "include" / "outpost-client"
    headers = sorted(p.relative_to(include).as_posix() for p in include.rglob("*") if p.is_file())
    others = [f for f in files if not f.startswith("include/outpost-client/")]
    libdirs = {f.split("/cmake/")[0] for f in others if "/cmake/OutpostClient/" in f}
    check(len(libdirs) == 1, f"no single lib/cmake/OutpostClient among {others}")
    lib = libdirs.pop()
    # The per-configuration file is named after the build type (-relwithdebinfo by default).
    per_config = [f for f in others if re.fullmatch(
        re.escape(lib) + r"/cmake/OutpostClient/OutpostClientTargets-[a-z]+\.cmake", f)]
    expected = {f"{lib}/liboutpost-client.a", f"{lib}/pkgconfig/outpost-client.pc",
                f"{lib}/cmake/OutpostClient/OutpostClientConfig.cmake",
                f"{lib}/cmake/OutpostClient/OutpostClientConfigVersion.cmake",
                f"{lib}/cmake/OutpostClient/OutpostClientTargets.cmake", *per_config[:1]}
    check(set(others) == expected,
          f"installed besides the headers: {sorted(others)}\nexpected: {sorted(expected)}")

    # Every header of client/ is there, every project include of an installed header resolves
    # inside the installed tree, and nothing is there that client/*.h do not reach.
    roots = sorted(f"client/{p.name}" for p in (source_dir / "client").glob("*.h"))
    reached, todo = set(), list(roots)
    while todo:
        header = todo.pop()
        if header in reached:
            continue
        check((include / header).is_file(),
              f"{header} is not installed (needed by the client's headers); installed: {headers}")
        reached.add(header)
        todo += INCLUDE.findall((include / header).read_text())
    check(reached == set(headers),
          f"installed headers no client header includes: {sorted(set(headers) - reached)}")
    for header in headers:
        check(header.startswith(("client/", "common/", "outpost/v1/")), f"installed {header}")
        check(not header.startswith(("common/sqlite/", "common/config/", "common/log/",
                                     "common/net/")), f"installed {header}")
    check("outpost/v1/devices.pb.h" in headers, f"no generated devices.pb.h in {headers}")
    print(f"-- installed {len(headers)} headers and {len(others)} other files under {prefix}")
    return headers, lib


def pkg_config(prefix, lib, *flags):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / lib / "pkgconfig"))
    out = run(["pkg-config", *flags, "outpost-client"], f"pkg-config {' '.join(flags)}", env=env)
    return shlex.split(out.stdout)


def build_against_package(args, tmp, prefix, lib, headers, launcher):
    """Returns (the example built by CMake, the example built with pkg-config's flags)."""
    compile_prefix = [launcher] if launcher else []
    cflags = pkg_config(prefix, lib, "--cflags")
    libs = pkg_config(prefix, lib, "--libs")
    check(any(Path(f[2:]).resolve() == (prefix / "include/outpost-client").resolve()
              for f in cflags if f.startswith("-I")),
          f"pkg-config --cflags does not name the installed include directory: {cflags}")

    # Every installed header, with nothing but the installed tree and the .pc file's flags.
    all_headers = tmp / "all_headers.cc"
    all_headers.write_text("".join(f'#include "{h}"\n' for h in headers))
    run(compile_prefix + [args.cxx, "-std=c++20", "-Wall", "-Wextra", "-Werror", *cflags,
                          "-c", all_headers, "-o", tmp / "all_headers.o"],
        "compile every installed header", env=build_env())

    # A device maker's own CMake project: a copy of client/example, nothing of this tree.
    source = tmp / "example-src"
    shutil.copytree(args.source_dir / "client" / "example", source)
    build = tmp / "example-build"
    argv = ["cmake", "-S", source, "-B", build, "-G", args.generator,
            "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_CXX_COMPILER={args.cxx}",
            f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror",
            # The installed headers need no Boost: a lookup of it would fail.
            "-DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON"]
    if launcher:
        argv.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={launcher}")
    run(argv, "configure client/example with find_package(OutpostClient)", env=build_env())
    cache = (build / "CMakeCache.txt").read_text()
    found = re.search(r"^OutpostClient_DIR:PATH=(.*)$", cache, re.M)
    check(found and Path(found.group(1)).resolve() ==
          (prefix / lib / "cmake" / "OutpostClient").resolve(),
          f"find_package(OutpostClient) did not use the installed package: "
          f"{found.group(1) if found else 'not found'}")
    run(["cmake", "--build", build, "-j", "2"], "build client/example", env=build_env())
    by_cmake = build / "outpost_client_example"
    check(by_cmake.is_file(), f"no {by_cmake}")

    # docs/client.md's pkg-config line, compiled and linked in two steps so ccache serves the
    # compile.
    obj = tmp / "example-pc.o"
    by_pkg_config = tmp / "outpost_client_example_pc"
    run(compile_prefix + [args.cxx, "-std=c++20", "-O2", "-Wall", "-Wextra", "-Werror",
                          *cflags, "-c", source / "main.cc", "-o", obj],
        "compile client/example with pkg-config --cflags", env=build_env())
    run([args.cxx, obj, "-o", by_pkg_config, *libs], "link it with pkg-config --libs")
    return by_cmake, by_pkg_config


def run_example(site, binary, token, state_dir, serial):
    cp = subprocess.run([str(binary), site.sat.url, str(site.sat.ca), token, str(state_dir), TAG,
                         serial], capture_output=True, text=True, timeout=120,
                        stdin=subprocess.DEVNULL)
    shown = f"{binary.name} (exit {cp.returncode}):\n{cp.stdout}{cp.stderr}"
    print(f"-- {shown}")
    check(cp.returncode == 0, f"the example failed: {shown}")
    registered = re.search(r"^registered instance (\S+) va default udi OUTPOST-EXAMPLE:"
                           + re.escape(serial) + "$", cp.stdout, re.M)
    check(registered, f"no registration in the output: {shown}")
    instance = registered.group(1)
    check(re.search(r"^verified authorization from satellite \S+ issued \S+Z$", cp.stdout, re.M),
          f"no verified authorization in the output: {shown}")
    check(re.search(rf"^tag {re.escape(TAG)} AUTHORIZED requested 1 granted 1 valid until "
                    r"\d{4}-\d\d-\d\dT\S+Z$", cp.stdout, re.M),
          f"the tag was not authorized: {shown}")
    check(f"released instance {instance} (1 unit(s) given back)" in cp.stdout,
          f"no release in the output: {shown}")
    # The satellite saw the same, and the state directory says released.
    check((state_dir / "released").is_file() and (state_dir / "authorization.pb").is_file(),
          f"{state_dir} holds no authorization or no release mark")
    export = site.sat.ok("audit", "export", "--device", instance)
    actions = {json.loads(line)["action"] for line in export.out.splitlines() if line.strip()}
    check({"device.register", "device.authorize", "device.release"} <= actions,
          f"the satellite's audit trail for {instance} shows only {sorted(actions)}")
    return instance


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source-dir", type=Path, required=True)
    parser.add_argument("--outpost", required=True, help="the outpost binary (the satellite)")
    parser.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    parser.add_argument("--generator", default="Ninja" if shutil.which("ninja") else
                        "Unix Makefiles")
    args = parser.parse_args()
    args.source_dir = args.source_dir.resolve()
    os.environ["OUTPOST_BIN"] = args.outpost
    launcher = shutil.which("ccache")
    print(f"-- compiler {args.cxx}, launcher {launcher or 'none'}")

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="outpost-client-package-"))
    try:
        build, prefix = configure_build_install(args, tmp, launcher)
        headers, lib = check_installed(args.source_dir, prefix)
        shutil.rmtree(build)  # the installed package must stand alone
        by_cmake, by_pkg_config = build_against_package(args, tmp, prefix, lib, headers,
                                                        launcher)
        site = harness.Site(vas=("default",), licenses=[("default", TAG, 5, True)])
        with site:
            print(f"-- satellite {site.sat.url} (log {site.root / 'satellite.log'})")
            one = run_example(site, by_cmake, site.token("default")[1], tmp / "device-1",
                              "EXAMPLE-0001")
            two = run_example(site, by_pkg_config, site.token("default")[1], tmp / "device-2",
                              "EXAMPLE-0002")
            check(one != two, "both examples got the same instance id")
            in_use = site.sat.pools()[("default", TAG)]["in_use"]
            check(in_use == 0, f"{in_use} units of {TAG} still in use after both releases")
    except Failure as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if os.environ.get("CLIENT_PACKAGE_KEEP"):
            print(f"-- kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"-- passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
