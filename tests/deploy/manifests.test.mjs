// node --test: renders deploy/k8s with `kubectl kustomize` and validates every object offline
// (lib/validate.mjs), proves the validation bites on fixtures/broken/*, checks the properties
// issue #7 asks of the manifests, keeps the PrometheusRule equal to the plain rules file, and
// lints the Dockerfiles with dockerfile-utils.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { validateStream } from './lib/validate.mjs';
import { renderPrometheusRule, prometheusRuleFile, rulesFile } from './sync-rules.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const k8s = path.join(root, 'deploy', 'k8s');
const kubectl = process.env.KUBECTL ?? 'kubectl';
// Secrets that production creates by hand (documented in overlays/prod/kustomization.yaml).
const prodExternalSecrets = ['autosync-database-owner', 'autosync-database-scheduler',
  'autosync-database-worker', 'autosync-gateway-jwt', 'autosync-store-tokens', 'autosync-tls',
  'autosync-alertmanager-webhook'];

const rendered = new Map();
function render(dir) {
  if (!rendered.has(dir)) {
    rendered.set(dir, execFileSync(kubectl, ['kustomize', path.join(k8s, dir)], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  }
  return rendered.get(dir);
}
const objects = (dir) => yaml.loadAll(render(dir)).filter(Boolean);
const find = (objs, kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const baseName = (name) => name.replace(/-[a-z0-9]{10}$/, '');  // kustomize's generator hash

for (const [overlay, externalSecrets] of [['overlays/dev', []], ['overlays/prod', prodExternalSecrets]]) {
  test(`${overlay} renders and every object validates against the API schemas`, async () => {
    const problems = await validateStream(render(overlay), { hardening: true, externalSecrets });
    assert.deepEqual(problems, []);
    assert.ok(objects(overlay).length > 0);
  });
}

// dev leaves the Operator objects out (a dev cluster may lack the CRDs); applied next to it
// they must still find their Services.
test('overlays/dev + monitoring validates together', async () => {
  const problems = await validateStream(`${render('overlays/dev')}\n---\n${render('monitoring')}`,
    { hardening: true, externalSecrets: ['autosync-alertmanager-webhook'] });
  assert.deepEqual(problems, []);
});

const brokenDir = path.join(here, 'fixtures', 'broken');
for (const file of fs.readdirSync(brokenDir).filter((f) => f.endsWith('.yaml')).sort()) {
  test(`broken manifest ${file} is refused`, async () => {
    const text = fs.readFileSync(path.join(brokenDir, file), 'utf8');
    const expected = text.match(/^# expect: (.*)$/m)?.[1];
    assert.ok(expected, `${file} needs an "# expect: <problem>" line`);
    const problems = await validateStream(text, { hardening: true });
    assert.ok(problems.some((p) => p.includes(expected)), `expected "${expected}" among ${JSON.stringify(problems, null, 1)}`);
  });
}

test('a real overlay with one typo injected is refused (the check bites on rendered output too)', async () => {
  const broken = render('overlays/prod').replace('terminationGracePeriodSeconds:', 'terminationGracePeriodSecond:');
  const problems = await validateStream(broken, { hardening: true, externalSecrets: prodExternalSecrets });
  assert.ok(problems.some((p) => p.includes('unknown field "terminationGracePeriodSecond"')), JSON.stringify(problems));
});

test('dev: one replica each, in-cluster PostgreSQL and store-sim, no autoscaler', () => {
  const objs = objects('overlays/dev');
  for (const name of ['scheduler-service', 'sync-worker', 'ws-gateway', 'store-sim']) {
    assert.equal(find(objs, 'Deployment', name)?.spec.replicas, 1, name);
  }
  assert.equal(find(objs, 'StatefulSet', 'postgres')?.spec.replicas, 1);
  assert.equal(objs.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject').length, 0);
  const secrets = objs.filter((o) => o.kind === 'Secret').map((o) => baseName(o.metadata.name)).sort();
  assert.deepEqual(secrets, ['autosync-database-owner', 'autosync-database-scheduler', 'autosync-database-worker',
    'autosync-gateway-jwt', 'autosync-store-tokens', 'postgres-credentials']);
});

// Least privilege (README "Database roles"): the migration Job connects as the schema's owner,
// each service as its own login; the gateway has no database at all.
for (const overlay of ['overlays/dev', 'overlays/prod']) {
  test(`${overlay}: each workload takes its own database URL Secret`, () => {
    const objs = objects(overlay);
    const urlSecret = (kind, name) => {
      const spec = find(objs, kind, name)?.spec.template.spec;
      const env = spec.containers.flatMap((c) => c.env ?? []).find((e) => e.name === 'AUTOSYNC_DATABASE_URL');
      return env ? baseName(env.valueFrom.secretKeyRef.name) : undefined;
    };
    assert.equal(urlSecret('Job', 'autosync-migrate'), 'autosync-database-owner');
    assert.equal(urlSecret('Deployment', 'scheduler-service'), 'autosync-database-scheduler');
    assert.equal(urlSecret('Deployment', 'sync-worker'), 'autosync-database-worker');
    assert.equal(urlSecret('Deployment', 'ws-gateway'), undefined);
  });
}

test('prod: 2+ schedulers and gateways, autoscaled workers, external database, WebSocket Ingress', () => {
  const objs = objects('overlays/prod');
  assert.ok(find(objs, 'Deployment', 'scheduler-service').spec.replicas >= 2);
  assert.ok(find(objs, 'Deployment', 'ws-gateway').spec.replicas >= 2);
  assert.equal(find(objs, 'ScaledObject', 'sync-worker')?.spec.scaleTargetRef.name, 'sync-worker');
  assert.equal(objs.filter((o) => o.kind === 'Secret' || o.kind === 'StatefulSet').length, 0, 'no database or secrets in prod');
  const ingress = find(objs, 'Ingress', 'ws-gateway');
  const a = ingress.metadata.annotations;
  assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 3600);
  assert.ok(Number(a['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 3600);
  assert.equal(a['nginx.ingress.kubernetes.io/affinity'], 'cookie');
  assert.equal(ingress.spec.rules[0].http.paths[0].backend.service.name, 'ws-gateway');
  // The Ingress routes the gateway's public port only, never its metrics port.
  for (const rule of ingress.spec.rules) {
    for (const p of rule.http.paths) assert.equal(p.backend.service.port.name, 'http');
  }
  const gatewayService = find(objs, 'Service', 'ws-gateway');
  assert.deepEqual(gatewayService.spec.ports.map((p) => [p.name, p.port]), [['http', 8080], ['metrics', 9103]]);
  assert.equal(find(objs, 'ServiceMonitor', 'ws-gateway').spec.endpoints[0].port, 'metrics');
  for (const kind of ['ServiceMonitor']) {
    assert.deepEqual(objs.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort(), ['scheduler-service', 'sync-worker', 'ws-gateway']);
  }
  assert.ok(find(objs, 'PrometheusRule', 'autosync'));
});

// The workers scale on the run queue (issue 15) with KEDA, whose own HPA replaces the base's.
test('prod: KEDA scales the workers on queued + running runs, one worker per AUTOSYNC_MAX_CONCURRENT_SYNCS', () => {
  const objs = objects('overlays/prod');
  const so = find(objs, 'ScaledObject', 'sync-worker');
  assert.ok(so, 'ScaledObject sync-worker');
  assert.equal(so.spec.scaleTargetRef.kind ?? 'Deployment', 'Deployment');
  assert.ok(find(objs, 'Deployment', so.spec.scaleTargetRef.name));
  assert.equal(so.spec.minReplicaCount, 1);
  assert.equal(so.spec.maxReplicaCount, 20);
  assert.deepEqual(objs.filter((o) => o.kind === 'HorizontalPodAutoscaler'), [], 'KEDA creates the HPA; a second one would fight it');
  // A cluster still running the base's HPA: KEDA adopts it by name instead of refusing.
  const baseHpa = find(objects('base'), 'HorizontalPodAutoscaler', 'sync-worker');
  assert.equal(so.spec.advanced.horizontalPodAutoscalerConfig.name, baseHpa.metadata.name);
  assert.equal(so.metadata.annotations['scaledobject.keda.sh/transfer-hpa-ownership'], 'true');
  assert.ok(so.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds >= 300, 'scale in slowly');
  assert.equal(so.spec.triggers.length, 1);
  const [trigger] = so.spec.triggers;
  assert.equal(trigger.type, 'prometheus');
  assert.equal(trigger.metricType ?? 'AverageValue', 'AverageValue', 'replicas = ceil(query / threshold)');
  const slots = find(objs, 'ConfigMap', 'worker-config').data.AUTOSYNC_MAX_CONCURRENT_SYNCS;
  assert.equal(trigger.metadata.threshold, slots, "threshold = one worker's slots");
  assert.equal(trigger.metadata.ignoreNullValues, 'false', 'no data must not read as an empty queue');
  // The query is run against synthetic series by promtool (deploy/prometheus/tests).
  const ruleTests = yaml.load(fs.readFileSync(path.join(root, 'deploy/prometheus/tests/autosync-rules.test.yml'), 'utf8'));
  const exprs = ruleTests.tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr));
  assert.ok(exprs.includes(trigger.metadata.query), 'the promtool tests must run the ScaledObject query verbatim');
});

test('a real prod overlay with a ScaledObject typo is refused', async () => {
  const text = render('overlays/prod');
  for (const [from, to, expected] of [
    ['minReplicaCount:', 'minReplicas:', 'ScaledObject/sync-worker: /spec: unknown field "minReplicas"'],
    ['threshold: "64"', 'threshold: 64', 'ScaledObject/sync-worker: /spec/triggers/0/metadata/threshold: must be string'],
  ]) {
    assert.ok(text.includes(from), from);
    const problems = await validateStream(text.replace(from, to), { hardening: true, externalSecrets: prodExternalSecrets });
    assert.ok(problems.some((p) => p.includes(expected)), JSON.stringify(problems));
  }
});

test('gRPC services: headless Services, grpc probes (TCP under prod mTLS), graceful termination', () => {
  for (const overlay of ['overlays/dev', 'overlays/prod']) {
    const objs = objects(overlay);
    for (const [name, port] of [['scheduler-service', 50051], ['sync-worker', 50052]]) {
      assert.equal(find(objs, 'Service', name).spec.clusterIP, 'None', `${overlay} ${name}`);
      const pod = find(objs, 'Deployment', name).spec.template.spec;
      const c = pod.containers[0];
      // kubelet's grpc probes are plaintext: prod's mTLS ports are probed over TCP for start-up
      // and liveness, and readiness (which must follow the database) is GET /ready on the
      // metrics port.
      const kind = overlay === 'overlays/prod' ? 'tcpSocket' : 'grpc';
      for (const probe of ['startupProbe', 'livenessProbe']) assert.equal(c[probe][kind]?.port, port, `${name} ${probe} ${kind}`);
      if (overlay === 'overlays/prod') {
        const metricsPort = c.ports.find((p) => p.name === 'metrics').containerPort;
        assert.deepEqual(c.readinessProbe.httpGet, { path: '/ready', port: metricsPort }, `${name} readiness`);
      } else {
        assert.equal(c.readinessProbe.grpc?.port, port, `${name} readinessProbe grpc`);
      }
      assert.ok(pod.terminationGracePeriodSeconds >= 10, 'room for preStop + the 3 s gRPC grace');
      assert.ok(c.lifecycle.preStop.exec.command.includes('/bin/sleep'));
    }
    const gw = find(objs, 'Deployment', 'ws-gateway').spec.template.spec.containers[0];
    assert.equal(gw.readinessProbe.httpGet.path, '/health');
    assert.notEqual(gw.livenessProbe.httpGet.path, '/health', 'a scheduler outage must not restart the gateways');
    const target = find(objs, 'ConfigMap', 'scheduler-config').data.AUTOSYNC_WORKER_TARGET;
    assert.match(target, /^dns:\/\/\/sync-worker\.autosync\.svc(\.cluster\.local)?:50052$/);
    const job = find(objs, 'Job', 'autosync-migrate');
    assert.deepEqual(job.spec.template.spec.containers[0].args, ['--migrate_only']);
  }
});

test('network policies: default deny, only the scheduler reaches the worker, only the gateway is public', () => {
  const objs = objects('overlays/prod');
  const policies = objs.filter((o) => o.kind === 'NetworkPolicy');
  const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0 || Object.keys(p.spec.podSelector.matchLabels ?? {}).length === 0);
  assert.ok(deny && !deny.spec.ingress, 'a default-deny ingress policy');
  const forPod = (name) => policies.filter((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name);
  const worker = forPod('sync-worker').flatMap((p) => p.spec.ingress);
  const grpcRules = worker.filter((r) => r.ports.some((x) => x.port === 50052));
  assert.deepEqual(grpcRules.flatMap((r) => r.from.map((f) => f.podSelector?.matchLabels)), [{ 'app.kubernetes.io/name': 'scheduler-service' }]);
  // Rules without "from" admit everyone: only the gateway may have one.
  for (const p of policies) {
    for (const r of p.spec.ingress ?? []) {
      if (!r.from) assert.equal(p.spec.podSelector.matchLabels['app.kubernetes.io/name'], 'ws-gateway', p.metadata.name);
    }
  }
  // Every metrics port admits the monitoring namespace.
  for (const [name, port] of [['scheduler-service', 9101], ['sync-worker', 9102], ['ws-gateway', 9103]]) {
    const rules = forPod(name).flatMap((p) => p.spec.ingress).filter((r) => r.ports.some((x) => x.port === port));
    assert.ok(rules.length > 0 && rules.every((r) => r.from?.every((f) => f.namespaceSelector)), name);
  }
  // The gateway's metrics port is open to the monitoring namespace only, never to everyone.
  const gatewayRules = forPod('ws-gateway').flatMap((p) => p.spec.ingress);
  for (const r of gatewayRules.filter((x) => !x.from)) assert.ok(r.ports.every((x) => x.port !== 9103));
});

test('store tokens are mounted into the worker only, the JWT key into the gateway only', () => {
  const objs = objects('overlays/dev');
  const mounts = (name) => find(objs, 'Deployment', name).spec.template.spec.containers[0].volumeMounts.map((m) => m.mountPath);
  assert.ok(mounts('sync-worker').includes('/var/run/secrets/autosync/stores'));
  assert.ok(mounts('ws-gateway').includes('/var/run/secrets/autosync/jwt'));
  assert.ok(!mounts('scheduler-service').some((m) => m.startsWith('/var/run/secrets')));
  assert.ok(!mounts('ws-gateway').includes('/var/run/secrets/autosync/stores'));
});

test('the PrometheusRule carries exactly the rules of deploy/prometheus/autosync-rules.yml', () => {
  const plain = yaml.load(fs.readFileSync(rulesFile, 'utf8'));
  const operator = yaml.load(fs.readFileSync(prometheusRuleFile, 'utf8'));
  assert.deepEqual(operator.spec.groups, plain.groups, 'run: node tests/deploy/sync-rules.mjs');
  assert.equal(fs.readFileSync(prometheusRuleFile, 'utf8'), renderPrometheusRule());
  const alerts = plain.groups.flatMap((g) => g.rules).filter((r) => r.alert);
  for (const a of alerts) assert.ok(a.annotations?.runbook && a.annotations?.summary, `${a.alert} needs summary and runbook`);
  for (const name of ['AutosyncSyncFailuresRising', 'AutosyncStoreDataStale', 'AutosyncWorkerUnavailable', 'AutosyncNoSchedulerReplica', 'AutosyncGatewaySlowConsumerDisconnectsSpiking',
    'AutosyncQueueBehindStaleness', 'AutosyncWorkerRefusals']) {
    assert.ok(alerts.some((a) => a.alert === name), name);
  }
});

// The AlertmanagerConfig's child routes are free-form in the CRD schema (the Operator checks
// them when it loads them), so they are compared here, key by key, with the plain configuration.
test('the AlertmanagerConfig routes, groups, times and inhibits as deploy/alertmanager/alertmanager.yml', () => {
  const plain = yaml.load(fs.readFileSync(path.join(root, 'deploy/alertmanager/alertmanager.yml'), 'utf8'));
  const amc = find(objects('monitoring'), 'AlertmanagerConfig', 'autosync');
  assert.ok(amc, 'AlertmanagerConfig autosync in deploy/k8s/monitoring');
  assert.ok(find(objects('overlays/prod'), 'AlertmanagerConfig', 'autosync'), 'prod carries it');
  const matcher = (text) => {
    const m = text.match(/^(\w+)(=~|!~|!=|=)"(.*)"$/);
    assert.ok(m, `matcher ${text}`);
    return { name: m[1], matchType: m[2], value: m[3] };
  };
  const defined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const route = (r) => defined({
    receiver: r.receiver, groupBy: r.group_by, groupWait: r.group_wait, groupInterval: r.group_interval,
    repeatInterval: r.repeat_interval, matchers: r.matchers?.map(matcher), routes: r.routes?.map(route),
  });
  assert.deepEqual(amc.spec.route, route(plain.route));
  assert.deepEqual(amc.spec.inhibitRules, plain.inhibit_rules.map((r) => defined({
    sourceMatch: r.source_matchers.map(matcher), targetMatch: r.target_matchers.map(matcher), equal: r.equal,
  })));
  assert.deepEqual(amc.spec.receivers.map((r) => [r.name, r.webhookConfigs.map((w) => w.sendResolved)]),
    plain.receivers.map((r) => [r.name, r.webhook_configs.map((w) => w.send_resolved)]));
  for (const r of amc.spec.receivers) {
    for (const w of r.webhookConfigs) assert.deepEqual(w.urlSecret, { name: 'autosync-alertmanager-webhook', key: 'url' }, r.name);
  }
});

const dockerDir = path.join(root, 'deploy', 'docker');
for (const file of fs.readdirSync(dockerDir).filter((f) => f.endsWith('.Dockerfile')).sort()) {
  test(`Dockerfile lint: ${file}`, () => {
    const text = fs.readFileSync(path.join(dockerDir, file), 'utf8');
    const diagnostics = lintDockerfile(text, {});
    assert.deepEqual(diagnostics.map((d) => `line ${d.range.start.line + 1}: ${d.message}`), []);
    const stages = text.split(/^FROM /m).slice(1);
    assert.equal(stages.length, 2, 'build stage + runtime stage');
    assert.match(stages[0], /^debian:bookworm-slim AS build/);
    assert.match(stages[0], /install-deps/, 'the build stage installs what deploy/local/install-deps installs');
    assert.match(stages[1], /^debian:bookworm-slim\n/);
    assert.match(stages[1], /^USER 10001:10001$/m);
    assert.doesNotMatch(stages[1], /-dev\b/);
  });
}

test('the Dockerfile linter bites', () => {
  const messages = lintDockerfile('FROM debian:bookworm-slim\nRUNN echo hi\nUSER\n', {}).map((d) => d.message);
  assert.ok(messages.includes('Unknown instruction: RUNN'), JSON.stringify(messages));
  assert.ok(messages.includes('Instruction has no arguments'), JSON.stringify(messages));
});

// mTLS between the services (issue 19): dev runs plaintext gRPC; prod gives each service a
// cert-manager Certificate naming it, mounts its Secret and points the --tls_* flags at it.
test('mTLS: dev is --insecure_grpc; prod has a Certificate per service, mounted and configured', () => {
  const dev = objects('overlays/dev');
  assert.equal(find(dev, 'ConfigMap', 'autosync-common').data.AUTOSYNC_INSECURE_GRPC, 'true');
  assert.equal(dev.filter((o) => o.kind === 'Certificate').length, 0);

  const objs = objects('overlays/prod');
  const common = find(objs, 'ConfigMap', 'autosync-common').data;
  assert.equal(common.AUTOSYNC_INSECURE_GRPC, undefined, 'prod must not run plaintext gRPC');
  for (const [deployment, certificate, service] of [
    ['scheduler-service', 'autosync-scheduler', 'scheduler-service'],
    ['sync-worker', 'autosync-worker', 'sync-worker'],
    ['ws-gateway', 'autosync-gateway', 'ws-gateway'],
  ]) {
    const cert = find(objs, 'Certificate', certificate);
    assert.ok(cert, `Certificate ${certificate}`);
    assert.ok(cert.spec.dnsNames.includes(certificate), `${certificate}: the name the peers check`);
    assert.ok(cert.spec.dnsNames.includes(`${service}.autosync.svc.cluster.local`), `${certificate}: the Service's DNS name`);
    assert.ok(cert.spec.usages.includes('client auth'), certificate);
    assert.ok(cert.spec.issuerRef.name, certificate);
    const pod = find(objs, 'Deployment', deployment).spec.template.spec;
    const volume = pod.volumes.find((v) => v.secret?.secretName === cert.spec.secretName);
    assert.ok(volume, `${deployment} mounts ${cert.spec.secretName}`);
    const mount = pod.containers[0].volumeMounts.find((m) => m.name === volume.name);
    for (const [flag, file] of [['AUTOSYNC_TLS_CERT_FILE', 'tls.crt'], ['AUTOSYNC_TLS_KEY_FILE', 'tls.key'], ['AUTOSYNC_TLS_CA_FILE', 'ca.crt']]) {
      assert.equal(common[flag], `${mount.mountPath}/${file}`, `${deployment} ${flag}`);
    }
    assert.ok(pod.containers[0].envFrom.some((e) => e.configMapRef?.name === find(objs, 'ConfigMap', 'autosync-common').metadata.name), deployment);
  }
});
