#!/usr/bin/env python3
"""ovlmount's benchmark: times ovlmount side by side with the syscall floor and its peers.

Why: ovlmount must be the fastest way to put an image's tree on a path and must stay fast as
stores, stacks and the number of tracked mounts grow. Every figure here is a median of
repeated whole-process runs (forked by bench/spawn.cpp, no shell), with the peak RSS of the
largest process (wait4's ru_maxrss), and every ratio compares figures taken in the same run. Nothing
here fails on a timing: a case that cannot run (a peer not installed, a kernel limit) is
printed with the reason and no figure.

    bench.py --ovlmount BIN --floor BIN --spawn BIN --stores DIR [--runs N] [--json FILE] [--sections ...]
             [--docker-root DIR --docker-host URL --run-image IMAGE]

DIR holds the synthetic stores of bench/gen_store.py: DIR/<kind>-<images>/ for kind docker,
containerd and containers-storage. Run as root; it re-executes itself in a private mount
namespace, so no mount it makes is seen outside or outlives it. bench/run.sh is the one command
that builds, generates and calls this.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

KINDS = {"docker": "--data-root", "containerd": "--containerd-root", "containers-storage": "--storage-root"}
SECTIONS = ["startup", "resolve", "mount", "tracked", "throughput", "run"]


class Skip(Exception):
    """A case that cannot run here; its text says why."""


def executable(name):
    path = shutil.which(name)
    if not path:
        raise Skip(f"{name} is not installed")
    return path


def resolved(argv):
    return [argv[0] if "/" in argv[0] else executable(argv[0])] + list(argv[1:])


def spawn(argv):
    """Runs argv once to completion, output discarded. Raises RuntimeError on failure."""
    result = subprocess.run(resolved(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise RuntimeError(f"{' '.join(argv[:6])}...: exit {result.returncode}: {lines[-1] if lines else ''}")


def failure_text(stderr, code):
    """The failing command's own last words, else the timer's."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    own = [line for line in lines if not line.startswith("ovlmount-bench-spawn:")]
    return (own or lines or [f"exit {code}"])[-1].strip()


class Bench:
    def __init__(self, runs, spawner):
        self.runs = runs
        self.spawner = spawner
        self.rows = []

    def measure(self, group, case, steps, runs=None, warmup=2, unit_bytes=None, note=""):
        """Times one iteration of `steps` (argv lists run one after the other) `runs` times.
        A case that runs ovlmount must work; a peer or floor case may not (a kernel limit)."""
        runs = runs or self.runs
        row = {"group": group, "case": case, "note": note,
               "required": any(os.path.basename(arg) == "ovlmount" for argv in steps for arg in argv[:5])}
        try:
            command = [self.spawner, str(runs), str(warmup)]
            for index, argv in enumerate(steps):
                command += ([";;"] if index else []) + resolved(argv)
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(failure_text(result.stderr, result.returncode))
            samples = [line.split() for line in result.stdout.splitlines()]
            times = [int(ns) / 1e9 for ns, _ in samples]
            peak = max(int(kib) for _, kib in samples)
            row.update(median_ms=statistics.median(times) * 1000, min_ms=min(times) * 1000,
                       max_ms=max(times) * 1000, peak_rss_kib=peak, runs=runs)
            if unit_bytes:
                row["mib_per_s"] = unit_bytes / (1 << 20) / statistics.median(times)
        except Skip as skip:
            row["skipped"] = str(skip)
        except RuntimeError as error:
            row["failed"] = str(error)
        self.rows.append(row)
        print_row(row)
        return row

    def ratio(self, row, baseline, label):
        if "median_ms" in row and "median_ms" in baseline:
            row.setdefault("ratios", {})[label] = row["median_ms"] / baseline["median_ms"]


def print_row(row):
    if "skipped" in row or "failed" in row:
        print(f"  {row['case']:<52} {'n/a':>9}   {row.get('skipped') or row.get('failed')}", flush=True)
        return
    extra = f"{row['mib_per_s']:8.0f} MiB/s" if "mib_per_s" in row else ""
    print(f"  {row['case']:<52} {row['median_ms']:8.2f} ms {row['peak_rss_kib'] / 1024:7.1f} MiB {extra} {row['note']}",
          flush=True)


def print_ratio(row, label):
    if "ratios" in row and label in row["ratios"]:
        print(f"  {'':<52} {row['ratios'][label]:8.2f} x {label}")


def stores(directory):
    """{kind: {images: path}} of the generated stores in `directory`."""
    found = {}
    for name in sorted(os.listdir(directory)):
        kind, _, images = name.rpartition("-")
        if kind in KINDS and images.isdigit():
            found.setdefault(kind, {})[int(images)] = os.path.join(directory, name)
    return found


DEPTHS = (1, 10, 100, 125, 128, 500)


def depths_of(ovlmount, kind, root):
    """The depths D of the bench/depth-D images the store has."""
    return [depth for depth in DEPTHS
            if subprocess.run([ovlmount, KINDS[kind], root, "resolve", f"bench/depth-{depth}"],
                              capture_output=True).returncode == 0]


def lowerdir(ovlmount, kind, root, image):
    out = subprocess.run([ovlmount, KINDS[kind], root, "resolve", "--json", image], check=True, capture_output=True)
    return json.loads(out.stdout)["lowerdir"]


def section_startup(bench, args, found):
    print("startup")
    bench.measure("startup", "ovlmount --version", [[args.ovlmount, "--version"]])
    bench.measure("startup", "/bin/true (process floor)", [["/bin/true"]])


def section_resolve(bench, args, found):
    print("resolve (time and peak RSS vs store size and image depth)")
    for kind, sizes in found.items():
        for images, root in sorted(sizes.items()):
            for depth in [d for d in (1, 10, 100) if d in depths_of(args.ovlmount, kind, root)]:
                bench.measure("resolve", f"{kind} {images} images, depth {depth}",
                              [[args.ovlmount, KINDS[kind], root, "resolve", f"bench/depth-{depth}"]])


def mount_cases(bench, args, kind, root, depth, state, target):
    image = f"bench/depth-{depth}"
    layers = lowerdir(args.ovlmount, kind, root, image)
    ours = bench.measure("mount", f"ovlmount mount + umount, depth {depth}",
                         [[args.ovlmount, KINDS[kind], root, "--state-dir", state, "mount", image, target],
                          [args.ovlmount, "--state-dir", state, "umount", target]])
    floor_legacy = bench.measure("mount", f"floor mount(2) + umount, depth {depth}",
                                 [[args.floor, "legacy", target] + layers])
    floor_new = bench.measure("mount", f"floor new mount API + umount, depth {depth}",
                              [[args.floor, "new", target] + layers])
    floor = min((r for r in (floor_legacy, floor_new) if "median_ms" in r), key=lambda r: r["median_ms"], default={})
    mode = floor_new if floor is floor_new else floor_legacy
    from_sh = bench.measure("mount", f"floor started from sh (the issue's floor), depth {depth}",
                            [["sh", "-c", 'exec "$0" "$@"', args.floor, "new" if mode is floor_new else "legacy",
                              target] + layers])
    for row, label in ((floor, "floor"), (from_sh, "floor from sh")):
        bench.ratio(ours, row, label)
        print_ratio(ours, label)
    if depth > 1:
        options = "ro,lowerdir=" + ":".join(layers)
        bench.measure("mount", f"util-linux mount -t overlay + umount, depth {depth}",
                      [["mount", "-t", "overlay", "-o", options, "overlay", target], ["umount", target]])
    return ours


def section_mount(bench, args, found):
    print("mount + umount vs stack depth (smallest Docker store; floor and peers on the same layers)")
    docker = found.get("docker", {})
    if not docker:
        print("  no docker store")
        return
    root = docker[min(docker)]
    with tempfile.TemporaryDirectory(prefix="ovlmount-bench-") as work:
        state, target = os.path.join(work, "state"), os.path.join(work, "target")
        os.mkdir(target)
        mount_tmpfs(state)
        podman_root = podman_copy(found["containers-storage"], work) if "containers-storage" in found else None
        for depth in depths_of(args.ovlmount, "docker", root):
            ours = mount_cases(bench, args, "docker", root, depth, state, target)
            if podman_root:
                podman = podman_case(bench, podman_root, depth, work)
                bench.ratio(podman, ours, "ovlmount")
                print_ratio(podman, "ovlmount")
        unmount_below(work)


def unmount_below(path):
    """Detaches every mount at or below `path` (podman leaves its storage mounted), deepest first."""
    with open("/proc/self/mountinfo") as mountinfo:
        targets = [line.split()[4] for line in mountinfo]
    below = [t for t in targets if t == path or t.startswith(path.rstrip("/") + "/")]
    for target in sorted(set(below), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, stderr=subprocess.DEVNULL)


def podman_case(bench, podman_root, depth, work):
    podman = ["podman", "--root", podman_root, "--runroot", os.path.join(work, "podman-run"),
              "--storage-driver", "overlay"]
    image = f"docker.io/bench/depth-{depth}:latest"
    return bench.measure("mount", f"podman image mount + umount, depth {depth}",
                         [podman + ["image", "mount", image], podman + ["image", "umount", image]],
                         note="(on a copy of a synthetic graph root)")


def podman_copy(sizes, work):
    """A copy of the smallest containers-storage store: podman writes its database and mount
    counts into the graph root it is given, and the generated stores are kept."""
    if not shutil.which("podman"):
        return None
    copy = os.path.join(work, "podman-root")
    shutil.copytree(sizes[min(sizes)], copy, symlinks=True)
    return copy


def mount_tmpfs(path):
    """The state dir on tmpfs, as the default /run/ovlmount is."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", path], check=True)


def section_tracked(bench, args, found):
    print("mount, umount and list vs number of tracked mounts")
    docker = found.get("docker", {})
    if not docker:
        return
    root = docker[min(docker)]
    base = None
    with tempfile.TemporaryDirectory(prefix="ovlmount-bench-") as work:
        state = os.path.join(work, "state")
        mount_tmpfs(state)
        tracked = 0
        for count in args.tracked:
            while tracked < count - 1:
                target = os.path.join(work, f"t{tracked}")
                os.mkdir(target)
                spawn([args.ovlmount, "--data-root", root, "--state-dir", state, "mount", "bench/depth-10", target])
                tracked += 1
            target = os.path.join(work, "measured")
            os.makedirs(target, exist_ok=True)
            mount = [args.ovlmount, "--data-root", root, "--state-dir", state, "mount", "bench/depth-10", target]
            umount = [args.ovlmount, "--state-dir", state, "umount", target]
            pair = bench.measure("tracked", f"mount + umount with {count} tracked", [mount, umount])
            listing = bench.measure("tracked", f"list with {count} tracked", [[args.ovlmount, "--state-dir", state, "list"]])
            if base is None:
                base = (pair, listing)
            bench.ratio(pair, base[0], "1 tracked")
            bench.ratio(listing, base[1], "1 tracked")
            print_ratio(pair, "1 tracked")
            print_ratio(listing, "1 tracked")
        spawn([args.ovlmount, "--state-dir", state, "umount", "--all"])
        unmount_below(work)


def section_throughput(bench, args, found):
    print("verify, export, files vs openssl dgst -sha256 and tar on the same bytes (page cache warm)")
    docker = found.get("docker", {})
    root = docker[min(docker)] if docker else None
    if not root or "bulk" not in subprocess.run([args.ovlmount, "--data-root", root, "images"],
                                                capture_output=True, text=True).stdout:
        print("  no bench/bulk image")
        return
    layers = lowerdir(args.ovlmount, "docker", root, "bench/bulk")
    files = sorted(os.path.join(top, name) for layer in layers for top, _, names in os.walk(layer) for name in names)
    size = sum(os.path.getsize(f) for f in files)
    openssl = bench.measure("throughput", f"openssl dgst -sha256 ({size >> 20} MiB)", [["openssl", "dgst", "-sha256"] + files],
                            unit_bytes=size)
    ovl = [args.ovlmount, "--data-root", root]
    for case, argv in [("ovlmount verify", ovl + ["verify", "bench/bulk"]),
                       ("ovlmount files", ovl + ["files", "bench/bulk"]),
                       ("ovlmount export (through a pipe)",
                        ["sh", "-c", '"$@" | cat >/dev/null', "sh"] + ovl + ["export", "bench/bulk"])]:
        row = bench.measure("throughput", case, [argv], unit_bytes=size)
        if "mib_per_s" in row and "mib_per_s" in openssl:
            row.setdefault("ratios", {})["openssl throughput"] = row["mib_per_s"] / openssl["mib_per_s"]
            print(f"  {'':<52} {row['ratios']['openssl throughput']:8.2f} x openssl throughput")
    bench.measure("throughput", "tar -c of the same files (through a pipe)",
                  [["sh", "-c", 'tar -c -f - "$@" | cat >/dev/null', "sh"] + files], unit_bytes=size,
                  note="(GNU tar skips reading what it writes to /dev/null)")


def section_run(bench, args, found):
    print("run -- true vs docker run --rm and bwrap alone")
    if not (args.docker_root and args.run_image):
        print("  no --docker-root/--run-image given")
        return
    ovl = [args.ovlmount, "--data-root", args.docker_root]
    bench.measure("run", "ovlmount run IMAGE -- true", [ovl + ["run", args.run_image, "--", "true"]])
    with tempfile.TemporaryDirectory(prefix="ovlmount-bench-") as work:
        target, state = os.path.join(work, "root"), os.path.join(work, "state")
        os.mkdir(target)
        spawn(ovl + ["--state-dir", state, "mount", args.run_image, target])
        try:
            bench.measure("run", "bwrap alone (same tree, already mounted) -- true",
                          [["bwrap", "--ro-bind", target, "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid",
                            "--unshare-net", "true"]])
        finally:
            spawn([args.ovlmount, "--state-dir", state, "umount", target])
    if args.docker_host:
        os.environ["DOCKER_HOST"] = args.docker_host
        bench.measure("run", "docker run --rm IMAGE true", [["docker", "run", "--rm", "--network", "none", args.run_image, "true"]],
                      runs=max(3, bench.runs // 5))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ovlmount", required=True)
    parser.add_argument("--floor", required=True)
    parser.add_argument("--spawn", required=True, help="the ovlmount-bench-spawn timer")
    parser.add_argument("--stores", required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tracked", type=lambda s: [int(x) for x in s.split(",")], default=[1, 100, 1000])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--json")
    parser.add_argument("--docker-root")
    parser.add_argument("--docker-host")
    parser.add_argument("--run-image")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root")
    if os.environ.get("OVLMOUNT_BENCH_NAMESPACE") != "1":
        os.environ["OVLMOUNT_BENCH_NAMESPACE"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable] + sys.argv)
    args.ovlmount, args.floor, args.spawn = (os.path.abspath(path) for path in (args.ovlmount, args.floor, args.spawn))
    found = stores(args.stores)
    bench = Bench(args.runs, args.spawn)
    print(f"ovlmount benchmark: {platform.node()}, Linux {platform.release()}, {os.cpu_count()} CPUs, "
          f"{args.runs} runs per case (median)")
    for section in args.sections.split(","):
        globals()[f"section_{section}"](bench, args, found)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"kernel": platform.release(), "cpus": os.cpu_count(), "runs": args.runs,
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": bench.rows}, f, indent=1)
        print(f"figures: {args.json}")
    broken = [row["case"] for row in bench.rows if row["required"] and "failed" in row]
    if broken:
        sys.exit(f"bench.py: ovlmount failed in: {', '.join(broken)}")


if __name__ == "__main__":
    main()
