"""I/O faults end to end: the real `outpost serve` on a small tmpfs whose disk fills up.

A satellite is initialised on a tmpfs of a few MiB (`mount -t tmpfs`, so root is needed; without
it the run is skipped with exit status 77, which ctest reports as skipped). A filler file takes
all but a little of the space. Then, for each cycle:

  1. devices register (POST /v1/devices/register, one TLS connection each) until the disk is
     full, and a few more after the first refusal: every answer must be 200 or 503, each 503
     must carry Retry-After and say the disk is full and that service resumes by itself;
  2. while full: /readyz answers 503 with a "storage" check that says why, /metrics shows
     outpost_alarm_storage 1, an admin write (`outpost token create`) fails with the same
     reason, a device's read (GET /v1/devices/self over mTLS) still answers 200, and the log
     holds one line for the episode, not one per refused request;
  3. the filler is deleted; with no request but /readyz polls, readiness must come back (the
     writer's idle probe), and registrations succeed again.

Finally the satellite is stopped; `outpost audit verify --db` must pass; it is served again and
every acknowledged (200) registration must be listed, and no refused one.

    python3 tests/iofault/iofault.py                 # 3 cycles on an 8 MiB tmpfs
    python3 tests/iofault/iofault.py --small         # 1 cycle on 4 MiB (the ctest)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "journeys"))
import harness as h  # noqa: E402

SKIP = 77  # ctest SKIP_RETURN_CODE


class IoFaultFailed(AssertionError):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise IoFaultFailed(what)


def free_kib(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize // 1024


class Run:
    def __init__(self, root: Path, size_kib: int, headroom_kib: int, after_full: int):
        self.root = root
        self.mnt = root / "mnt"
        self.size_kib = size_kib
        self.headroom_kib = headroom_kib
        self.after_full = after_full
        self.op = h.Outpost(cwd=root)
        self.dir = self.mnt / "sat"
        self.log = root / "satellite.log"
        self.server = h.Server(self.op, ["serve", "--data-dir", self.dir], self.log, "is serving")
        self.port = 0
        self.acked: dict = {}       # instance id -> serial
        self.refused: set = set()   # serials answered 503
        self.serial = 0
        self.figures: dict = {"cycles": []}
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.generate_private_key(ec.SECP256R1())
        self.pub_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.key_file = root / "device.key"
        self.key_file.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self.cert_file = root / "device.pem"

    # --- plumbing ----------------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        ports = re.findall(r"URL:\s+https://127\.0\.0\.1:(\d+)", self.log.read_text())
        check(bool(ports), "no URL in the satellite's log")
        self.port = int(ports[-1])

    def context(self, client_cert: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.dir / "ca.pem"))
        ctx.check_hostname = False
        if client_cert:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx

    def request(self, method: str, path: str, body: bytes = b"", headers=None,
                client_cert: bool = False) -> tuple:
        conn = http.client.HTTPSConnection(h.LOOPBACK, self.port, timeout=30,
                                           context=self.context(client_cert))
        try:
            hdr = {"Content-Type": "application/json"}
            hdr.update(headers or {})
            conn.request(method, path, body=body or None, headers=hdr)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(
                errors="replace")
        finally:
            conn.close()

    def api_key(self) -> str:
        return (self.dir / "admin.apikey").read_text().strip()

    def cli(self, *args) -> h.Result:
        return self.op.run(*args, "--data-dir", self.dir, "--server",
                           f"https://{h.LOOPBACK}:{self.port}", json_out=True)

    def readiness(self) -> tuple:
        status, _, body = self.request("GET", "/readyz")
        return status, json.loads(body).get("checks", {})

    def metric(self, name: str) -> float:
        _, _, body = self.request("GET", "/metrics",
                                  headers={"Authorization": f"Bearer {self.api_key()}"})
        m = re.search(rf"(?m)^{re.escape(name)} (\S+)$", body)
        check(m is not None, f"{name} not in /metrics")
        return float(m.group(1))

    def register(self) -> tuple:
        self.serial += 1
        serial = f"SN{self.serial:06d}"
        body = json.dumps({"token": self.token, "pid": "IOFAULT", "serial": serial,
                           "hostname": "h", "public_key_pem": self.pub_pem}).encode()
        status, headers, text = self.request("POST", "/v1/devices/register", body)
        if status == 200:
            answer = json.loads(text)
            self.acked[answer["instance_id"]] = serial
            if not self.cert_file.exists():
                self.cert_file.write_text(answer["certificate_pem"])
        elif status == 503:
            self.refused.add(serial)
        return status, headers, text

    def episode_lines(self) -> int:
        return self.log.read_text(errors="replace").count("writes are answered 503 until")

    # --- the run -----------------------------------------------------------------------------

    def setup(self) -> None:
        self.mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_kib}k,mode=0700",
                        "tmpfs", str(self.mnt)], check=True, capture_output=True, text=True)
        self.op.ok("init", "--data-dir", self.dir, "--listen", f"{h.LOOPBACK}:0")
        config = self.dir / "outpost.toml"
        text = config.read_text()
        # One client registers hundreds of devices here; the per-address limit is not under test.
        text, n = re.subn(r"(?m)^registration_rate_per_minute = \d+$",
                          "registration_rate_per_minute = 1000000", text)
        check(n == 1, "registration_rate_per_minute not found in outpost.toml")
        config.write_text(text)
        self.start()
        r = self.cli("token", "create", "--va", "default", "--max-uses", "1000000")
        if not r.ok:
            raise h.CommandFailed(r, "token create failed")
        self.token = r.data["token"]

    def fill(self) -> Path:
        """A filler file that leaves headroom_kib free (written in 64 KiB steps)."""
        filler = self.mnt / f"filler-{len(self.figures['cycles'])}"
        want = max(0, free_kib(self.mnt) - self.headroom_kib)
        chunk = b"\0" * 65536
        with open(filler, "wb") as f:
            for _ in range(want // 64):
                f.write(chunk)
        return filler

    def cycle(self) -> None:
        filler = self.fill()
        fig = {"free_kib_at_start": free_kib(self.mnt)}
        statuses: Counter = Counter()
        episodes_before = self.episode_lines()
        t0 = time.monotonic()
        first_refusal = None
        for _ in range(5000):  # bounded: the headroom holds far fewer registrations
            status, headers, text = self.register()
            statuses[status] += 1
            check(status in (200, 503), f"registration answered {status}: {text[:300]}")
            if status == 503:
                check(headers.get("retry-after", "").isdigit(), f"503 without Retry-After: {headers}")
                msg = json.loads(text)["error"]["message"]
                check("the database disk is full" in msg and "resumes by itself" in msg,
                      f"503 without the reason: {msg}")
                if first_refusal is None:
                    first_refusal = time.monotonic()
                    fig["registered_before_full"] = statuses[200]
                    fig["first_refusal_message"] = msg
            if first_refusal is not None and statuses[503] >= self.after_full:
                break
        check(first_refusal is not None, "the disk never filled")
        fig["answers"] = dict(statuses)

        status, checks = self.readiness()
        check(status == 503, f"/readyz answered {status} on a full disk: {checks}")
        check("database writes have failed" in checks.get("storage", ""),
              f"/readyz storage check: {checks}")
        fig["readyz_storage"] = checks["storage"]
        check(self.metric("outpost_alarm_storage") == 1, "outpost_alarm_storage is not 1")
        status, _, body = self.request("GET", "/v1/devices/self", client_cert=True)
        check(status == 200, f"a device's read while full answered {status}: {body[:300]}")
        check(self.server.running, "the satellite exited on a full disk")
        new_episode_lines = self.episode_lines() - episodes_before
        check(new_episode_lines == 1,
              f"{new_episode_lines} log lines for one disk-full episode (want 1)")
        fig["log_lines_for_episode"] = new_episode_lines
        # A small admin write may still fit where a registration (tens of KiB of WAL) does not;
        # either it succeeds, or it fails with the same reason.
        r = self.cli("token", "create", "--va", "default")
        check(r.ok or "disk is full" in (r.err + r.out), f"admin write while full: {r.describe()}")
        fig["admin_write_while_full"] = "ok" if r.ok else "503"

        filler.unlink()
        t_freed = time.monotonic()
        deadline = t_freed + 30
        while time.monotonic() < deadline:
            if self.readiness()[0] == 200:
                break
            time.sleep(0.1)
        status, checks = self.readiness()
        check(status == 200, f"/readyz still {status} 30 s after space returned: {checks}")
        fig["ready_again_after_s"] = round(time.monotonic() - t_freed, 2)
        check(self.metric("outpost_alarm_storage") == 0, "outpost_alarm_storage stays 1")
        for _ in range(5):
            status, _, text = self.register()
            check(status == 200, f"registration after space returned: {status} {text[:300]}")
        fig["full_for_s"] = round(t_freed - first_refusal, 2)
        self.figures["cycles"].append(fig)
        print(f"iofault: cycle {len(self.figures['cycles'])}: {json.dumps(fig)}", flush=True)

    def finish(self) -> None:
        rc = self.server.stop()
        check(rc == 0, f"outpost serve exited with {rc} at SIGTERM")
        r = self.op.run("audit", "verify", "--db", self.dir / "outpost.db", "--data-dir",
                        self.dir, json_out=True)
        check(r.ok, f"audit verify failed after the disk-full episodes:\n{r.describe()}")
        self.start()
        status, _, body = self.request(
            "GET", "/v1/admin/devices?limit=10000",
            headers={"Authorization": f"Bearer {self.api_key()}"})
        check(status == 200, f"listing devices: {status} {body[:300]}")
        listed = {d["instance_id"]: d.get("serial", "") for d in json.loads(body).get("devices", [])}
        lost = set(self.acked) - set(listed)
        check(not lost, f"{len(lost)} acknowledged registrations lost: {sorted(lost)[:5]}")
        ghosts = self.refused & set(listed.values())
        check(not ghosts, f"refused registrations present after restart: {sorted(ghosts)[:5]}")
        self.figures.update(acknowledged=len(self.acked), refused=len(self.refused),
                            listed_after_restart=len(listed))
        self.server.stop()

    def close(self) -> None:
        try:
            self.server.kill9()
        finally:
            if os.path.ismount(self.mnt):
                res = subprocess.run(["umount", str(self.mnt)], capture_output=True)
                if res.returncode != 0:
                    subprocess.run(["umount", "-l", str(self.mnt)], capture_output=True)


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


def run(cycles: int, size_kib: int, headroom_kib: int, after_full: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="outpost-iofault-"))
    r = Run(root, size_kib, headroom_kib, after_full)
    try:
        r.setup()
        for _ in range(cycles):
            r.cycle()
        r.finish()
        return r.figures
    except BaseException:
        tail = r.log.read_text(errors="replace")[-3000:] if r.log.exists() else ""
        print(f"iofault: satellite log (tail):\n{tail}", file=sys.stderr)
        raise
    finally:
        r.close()
        if os.path.ismount(r.mnt):
            print(f"iofault: could not unmount {r.mnt}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="1 cycle on 4 MiB (the ctest)")
    p.add_argument("--cycles", type=int)
    p.add_argument("--size-kib", type=int)
    p.add_argument("--headroom-kib", type=int, default=512)
    p.add_argument("--after-full", type=int, default=20,
                   help="registrations tried after the first 503")
    a = p.parse_args()
    if not can_mount():
        print("iofault: SKIPPED: needs root to mount a tmpfs (mount -t tmpfs); run as root, or "
              "see storage_fault_integration_test for the same checks through a faulty VFS")
        return SKIP
    cycles = a.cycles or (1 if a.small else 3)
    size = a.size_kib or (4096 if a.small else 8192)
    t0 = time.monotonic()
    figures = run(cycles, size, a.headroom_kib, a.after_full)
    figures["seconds"] = round(time.monotonic() - t0, 1)
    print(f"iofault: PASSED: {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except IoFaultFailed as e:
        print(f"iofault: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
