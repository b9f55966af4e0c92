#!/usr/bin/python3
"""Runs every `grpcurl` command of the README against a running system, the way grpcurl would.

Debian 12 packages no grpcurl, so this reads each command (continuation lines joined), and
performs the same call with Python stubs generated from the repo's protos (plus the standard
health and reflection protos from Debian's grpc-proto): `list` and `describe` through server
reflection, health checks, and every autosync RPC with its `-d` JSON parsed by the protobuf JSON
mapping, exactly as grpcurl parses it. A command that fails to parse, names an unknown method or
field, or answers an error fails the check.

  AUTOSYNC_SCHEDULER=127.0.0.1:P AUTOSYNC_WORKER=127.0.0.1:Q tests/deploy/grpcurl_readme.py README.md
  tests/e2e/run-with-system.sh "$PWD/tests/deploy/grpcurl_readme.py"   (a fresh system)
(README ports 50051 / 50052 are mapped to these targets.)
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generate_stubs(out):
    protos = os.path.join(out, "protos")
    os.makedirs(os.path.join(protos, "stdgrpc"))
    # A differently named folder: a generated `grpc` package would hide the real grpc module.
    for src, dst in (("grpc/health/v1/health.proto", "health.proto"),
                     ("grpc/reflection/v1alpha/reflection.proto", "reflection.proto")):
        shutil.copy(os.path.join("/usr/share/grpc-proto", src), os.path.join(protos, "stdgrpc", dst))
    shutil.copytree(os.path.join(ROOT, "proto", "autosync"), os.path.join(protos, "autosync"))
    files = ["stdgrpc/health.proto", "stdgrpc/reflection.proto",
             "autosync/v1/sync_worker.proto", "autosync/v1/scheduler.proto"]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", protos,
                    "-I", "/usr/lib/python3/dist-packages/grpc_tools/_proto",
                    "--python_out", out, "--grpc_python_out", out] + files,
                   check=True, cwd=protos)
    for pkg in ("stdgrpc", "autosync", "autosync/v1"):
        open(os.path.join(out, pkg, "__init__.py"), "a").close()
    sys.path.insert(0, out)


def readme_commands(path):
    text = open(path, encoding="utf-8").read()
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        lines = re.sub(r"\\\n\s*", " ", block).splitlines()
        i = 0
        while i < len(lines):
            command = lines[i].strip()
            i += 1
            if not command.startswith("grpcurl "):
                continue
            # A quoted -d body may span lines, as the shell allows.
            while True:
                try:
                    shlex.split(command, comments=True)
                    break
                except ValueError:
                    if i >= len(lines):
                        raise
                    command += "\n" + lines[i]
                    i += 1
            # `-d @ … <<'EOF'`: the body is the here-document that follows, as grpcurl reads
            # it from stdin.
            stdin = None
            heredoc = re.search(r"<<-?\s*'?\"?(\w+)'?\"?\s*$", command)
            if heredoc:
                body = []
                while i < len(lines) and lines[i].strip() != heredoc.group(1):
                    body.append(lines[i])
                    i += 1
                i += 1
                stdin = "\n".join(body)
                command = command[:heredoc.start()].rstrip()
            commands.append((command, stdin))
    return commands


def main():
    readme = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "README.md")
    env = os.environ
    targets = {"50051": env.get("AUTOSYNC_SCHEDULER") or env["AUTOSYNC_E2E_SCHEDULER_TARGET"],
               "50052": env.get("AUTOSYNC_WORKER") or env["AUTOSYNC_E2E_WORKER_TARGET"]}
    tmp = tempfile.mkdtemp(prefix="autosync-grpcurl-")
    try:
        generate_stubs(tmp)
        return run(readme, targets)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(readme, targets):
    import grpc
    from google.protobuf import json_format, symbol_database
    from stdgrpc import health_pb2, health_pb2_grpc, reflection_pb2, reflection_pb2_grpc
    from autosync.v1 import scheduler_pb2, scheduler_pb2_grpc  # noqa: F401 (registers types)
    from autosync.v1 import sync_worker_pb2, sync_worker_pb2_grpc  # noqa: F401

    pool = symbol_database.Default().pool
    commands = readme_commands(readme)
    if not commands:
        print("grpcurl-readme: no grpcurl commands found", file=sys.stderr)
        return 1
    failures = skipped = 0
    tls_dir = os.environ.get("AUTOSYNC_GRPCURL_TLS_DIR")
    for command, stdin in commands:
        args = shlex.split(command, comments=True)[1:]
        data = None
        positional = []
        tls = {}  # -cacert / -cert / -key / -servername / -authority (README "mTLS between services")
        i = 0
        while i < len(args):
            if args[i] == "-plaintext":
                i += 1
            elif args[i] in ("-cacert", "-cert", "-key", "-servername", "-authority"):
                tls[args[i]] = args[i + 1]
                i += 2
            elif args[i] == "-d":
                data = args[i + 1]
                if data == "@":
                    if stdin is None:
                        raise SystemExit(f"grpcurl-readme: -d @ without a here-document in: {command}")
                    data = stdin
                i += 2
            elif args[i].startswith("-"):
                raise SystemExit(f"grpcurl-readme: unsupported option {args[i]} in: {command}")
            else:
                positional.append(args[i])
                i += 1
        address = positional[0]
        port = address.rsplit(":", 1)[1]
        if tls and not tls_dir:
            # The system run-with-system.sh starts is plaintext (--insecure_grpc).
            skipped += 1
            print(f"skip {command[:110]} (TLS: set AUTOSYNC_GRPCURL_TLS_DIR to the files' folder "
                  "and run against services started with the --tls_* files)")
            continue
        if tls:
            def read(option):
                return open(os.path.join(tls_dir, tls[option]), "rb").read()
            credentials = grpc.ssl_channel_credentials(read("-cacert"), read("-key"), read("-cert"))
            name = tls.get("-servername", tls.get("-authority"))
            options = [("grpc.ssl_target_name_override", name)] if name else []
            channel = grpc.secure_channel(targets.get(port, address), credentials, options)
        else:
            channel = grpc.insecure_channel(targets.get(port, address))
        try:
            result = call(channel, positional[1:], data, pool, json_format,
                          health_pb2, health_pb2_grpc, reflection_pb2, reflection_pb2_grpc)
            print(f"ok   {command[:110]}{'…' if len(command) > 110 else ''}\n     {result}")
        except Exception as e:  # noqa: BLE001 — report every failing command, then fail
            failures += 1
            print(f"FAIL {command}\n     {type(e).__name__}: {e}", file=sys.stderr)
        finally:
            channel.close()
    print(f"grpcurl-readme: {len(commands) - failures - skipped} passed, {failures} failed, "
          f"{skipped} skipped")
    return 1 if failures else 0


def call(channel, rest, data, pool, json_format, health_pb2, health_pb2_grpc,
         reflection_pb2, reflection_pb2_grpc):
    if rest and rest[0] in ("list", "describe"):
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        if rest[0] == "list":
            req = reflection_pb2.ServerReflectionRequest(list_services="*")
        else:
            req = reflection_pb2.ServerReflectionRequest(file_containing_symbol=rest[1])
        (resp,) = list(stub.ServerReflectionInfo(iter([req]), timeout=10))
        if resp.HasField("error_response"):
            raise RuntimeError(resp.error_response.error_message)
        if rest[0] == "list":
            return ", ".join(s.name for s in resp.list_services_response.service)
        return f"{len(resp.file_descriptor_response.file_descriptor_proto)} file(s) describe {rest[1]}"
    service_name, method_name = rest[0].rsplit("/", 1)
    if service_name == "grpc.health.v1.Health":
        resp = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        if resp.status != health_pb2.HealthCheckResponse.SERVING:
            raise RuntimeError(f"health {resp.status}")
        return "SERVING"
    service = pool.FindServiceByName(service_name)
    method = service.FindMethodByName(method_name)
    from google.protobuf import message_factory
    request_cls = message_factory.GetMessageClass(method.input_type) if hasattr(
        message_factory, "GetMessageClass") else message_factory.MessageFactory(pool).GetPrototype(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type) if hasattr(
        message_factory, "GetMessageClass") else message_factory.MessageFactory(pool).GetPrototype(method.output_type)
    request = json_format.Parse(data or "{}", request_cls())  # grpcurl's JSON parsing
    path = f"/{service_name}/{method_name}"
    if method.server_streaming:
        stream = channel.unary_stream(path, request_serializer=request_cls.SerializeToString,
                                      response_deserializer=response_cls.FromString)(
            request, timeout=120)
        events = []
        for event in stream:
            events.append(event)
            # WatchStore never ends on its own: its first event (the status) is the proof.
            if service_name.endswith("Scheduler") and method_name == "WatchStore":
                stream.cancel()
                break
        if not events:
            raise RuntimeError("the stream sent nothing")
        last = json_format.MessageToJson(events[-1], indent=None)
        if method_name == "RunSync" and '"STAGE_COMPLETED"' not in last:
            raise RuntimeError(f"the run did not complete: {last[:300]}")
        return f"{len(events)} message(s), last: {last[:150]}"
    response = channel.unary_unary(path, request_serializer=request_cls.SerializeToString,
                                   response_deserializer=response_cls.FromString)(request, timeout=30)
    return json_format.MessageToJson(response, indent=None)[:150]


if __name__ == "__main__":
    sys.exit(main())
