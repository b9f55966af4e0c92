// Offline validation of a rendered Kubernetes manifest stream: each object against the API
// schemas shipped by npm's kubernetes-models (+ the Prometheus Operator, KEDA and cert-manager
// models), an unknown-field check, references between the objects, and autosync's hardening rules.
// validateStream(text, options) returns a list of "<Kind>/<name>: <path>: <problem>" strings.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yaml from 'js-yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, '..', 'node_modules');

// apiVersion -> folder of its models. Core "v1" lives in kubernetes-models/v1.
function modelFile(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return null;
  if (!/^[A-Za-z0-9]+$/.test(kind) || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return null;
  const candidates = [
    path.join(modules, 'kubernetes-models', apiVersion, `${kind}.js`),
    path.join(modules, '@kubernetes-models', 'prometheus-operator', apiVersion, `${kind}.js`),
    path.join(modules, '@kubernetes-models', 'keda', apiVersion, `${kind}.js`),
    path.join(modules, '@kubernetes-models', 'cert-manager', apiVersion, `${kind}.js`),
  ];
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}

const validatorCache = new Map();

// The model module imports its compiled schema validator; load that validator directly so the
// object under test is validated as given (the model constructor would copy it).
async function schemaValidator(apiVersion, kind) {
  const file = modelFile(apiVersion, kind);
  if (!file) return null;
  if (!validatorCache.has(file)) {
    const text = fs.readFileSync(file, 'utf8');
    const m = text.match(/import\s*\{\s*validate\s*\}\s*from\s*"([^"]*_schemas\/[^"]+)"/);
    if (!m) throw new Error(`no schema import in ${file}`);
    const schemaFile = path.resolve(path.dirname(file), m[1]);
    const mod = await import(pathToFileURL(schemaFile).href);
    validatorCache.set(file, mod.validate);
  }
  return validatorCache.get(file);
}

// Wraps an object tree in proxies that record which property names the validator reads.
// The compiled validators read every property their schema declares (present or not) and
// enumerate the keys of map-like objects, so a key that is never read is unknown to the schema.
function tracked(value, where, records) {
  if (value === null || typeof value !== 'object') return value;
  const record = { where, value, read: new Set(), enumerated: false };
  records.push(record);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string') record.read.add(key);
      const v = Reflect.get(target, key, receiver);
      if (v !== null && typeof v === 'object' && typeof key === 'string') {
        if (!children.has(key)) children.set(key, tracked(v, `${where}/${key}`, records));
        return children.get(key);
      }
      return v;
    },
    has(target, key) {
      if (typeof key === 'string') record.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

function schemaErrors(validate, obj) {
  const records = [];
  const ok = validate(tracked(obj, '', records));
  const problems = [];
  if (!ok) {
    for (const e of validate.errors ?? []) {
      let detail = e.message ?? e.keyword;
      if (e.keyword === 'required') detail = `missing required field "${e.params.missingProperty}"`;
      else if (e.keyword === 'type') detail = `must be ${e.params.type}`;
      else if (e.keyword === 'enum') detail = `must be one of ${JSON.stringify(e.params.allowedValues)}`;
      else if (e.keyword === 'format') detail = `must match format "${e.params.format}"`;
      else if (e.keyword === 'pattern') detail = `must match pattern ${e.params.pattern}`;
      problems.push(`${e.instancePath || '/'}: ${detail}`);
    }
  }
  for (const r of records) {
    if (Array.isArray(r.value) || r.enumerated) continue;
    // Nothing read at all: a free-form object (schema without properties); nothing to compare.
    if (r.read.size === 0) continue;
    for (const key of Object.keys(r.value)) {
      if (!r.read.has(key)) problems.push(`${r.where || '/'}: unknown field "${key}"`);
    }
  }
  return problems;
}

const podSpecOf = (o) => {
  switch (o.kind) {
    case 'Deployment': case 'StatefulSet': case 'DaemonSet': case 'ReplicaSet': case 'Job':
      return o.spec?.template;
    case 'CronJob':
      return o.spec?.jobTemplate?.spec?.template;
    case 'Pod':
      return o;
    default:
      return undefined;
  }
};

const matches = (selector, labels) =>
  !!selector && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

// options.externalSecrets: Secret names the overlay expects to exist in the cluster already.
// options.hardening: check securityContext / resources / probes of autosync's workloads.
export async function validateStream(text, options = {}) {
  const external = new Set(options.externalSecrets ?? []);
  const problems = [];
  let docs;
  try {
    docs = yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
  } catch (e) {
    return [`stream: YAML does not parse: ${e.message.split('\n')[0]}`];
  }
  const objects = [];
  for (const [i, d] of docs.entries()) {
    const id = `${d?.kind ?? '?'}/${d?.metadata?.name ?? `#${i}`}`;
    if (typeof d !== 'object' || Array.isArray(d)) {
      problems.push(`document #${i}: not an object`);
      continue;
    }
    // The API server's base64 decoder skips line breaks, and kustomize writes long values as
    // literal blocks with breaks; the schema's "byte" format does not, so drop them first.
    for (const field of ['data', 'binaryData']) {
      if ((d.kind === 'Secret' || field === 'binaryData') && d[field] && typeof d[field] === 'object') {
        for (const [k, v] of Object.entries(d[field])) if (typeof v === 'string') d[field][k] = v.replace(/[\r\n]/g, '');
      }
    }
    const validate = await schemaValidator(d.apiVersion, d.kind);
    if (!validate) {
      problems.push(`${id}: unknown apiVersion/kind ${d.apiVersion}/${d.kind}`);
      continue;
    }
    for (const p of schemaErrors(validate, d)) problems.push(`${id}: ${p}`);
    if (!d.metadata?.name) problems.push(`${id}: metadata.name is missing`);
    objects.push({ id, o: d });
  }
  const seen = new Set();
  for (const { id, o } of objects) {
    const key = `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
    if (seen.has(key)) problems.push(`${id}: defined twice`);
    seen.add(key);
  }

  const byKind = (k) => objects.filter(({ o }) => o.kind === k).map(({ o }) => o);
  const configMaps = new Map(byKind('ConfigMap').map((o) => [o.metadata.name, o]));
  const secrets = new Map(byKind('Secret').map((o) => [o.metadata.name, o]));
  // A cert-manager Certificate writes its Secret (tls.crt, tls.key, ca.crt) into the cluster.
  for (const c of byKind('Certificate')) {
    if (typeof c.spec?.secretName === 'string') {
      secrets.set(c.spec.secretName, { data: { 'tls.crt': '', 'tls.key': '', 'ca.crt': '' } });
    }
  }
  const workloads = objects.filter(({ o }) => podSpecOf(o));

  const needSecret = (id, name, key, where) => {
    if (secrets.has(name)) {
      const s = secrets.get(name);
      if (key !== undefined && !(key in (s.data ?? {})) && !(key in (s.stringData ?? {}))) {
        problems.push(`${id}: ${where}: Secret ${name} has no key "${key}"`);
      }
    } else if (!external.has(name)) {
      problems.push(`${id}: ${where}: Secret ${name} is neither rendered nor declared external`);
    }
  };
  const needConfigMap = (id, name, key, where) => {
    const c = configMaps.get(name);
    if (!c) problems.push(`${id}: ${where}: ConfigMap ${name} is not rendered`);
    else if (key !== undefined && !(key in (c.data ?? {}))) {
      problems.push(`${id}: ${where}: ConfigMap ${name} has no key "${key}"`);
    }
  };

  for (const { id, o } of workloads) {
    const tpl = podSpecOf(o);
    const spec = tpl?.spec ?? {};
    const labels = tpl?.metadata?.labels ?? {};
    if (o.spec?.selector?.matchLabels && !matches(o.spec.selector.matchLabels, labels)) {
      problems.push(`${id}: spec.selector does not match the pod template's labels`);
    }
    const containers = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
    for (const c of containers) {
      const where = `container ${c.name}`;
      for (const ef of c.envFrom ?? []) {
        if (ef.configMapRef) needConfigMap(id, ef.configMapRef.name, undefined, where);
        if (ef.secretRef) needSecret(id, ef.secretRef.name, undefined, where);
      }
      for (const e of c.env ?? []) {
        const r = e.valueFrom;
        if (r?.secretKeyRef && !r.secretKeyRef.optional) needSecret(id, r.secretKeyRef.name, r.secretKeyRef.key, `${where} env ${e.name}`);
        if (r?.configMapKeyRef && !r.configMapKeyRef.optional) needConfigMap(id, r.configMapKeyRef.name, r.configMapKeyRef.key, `${where} env ${e.name}`);
      }
      const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
      for (const t of o.spec?.volumeClaimTemplates ?? []) volumes.add(t.metadata?.name);
      for (const m of c.volumeMounts ?? []) {
        if (!volumes.has(m.name)) problems.push(`${id}: ${where}: volumeMount ${m.name} names no volume`);
      }
      const ports = new Set((c.ports ?? []).map((p) => p.name).filter(Boolean));
      for (const [probeName, probe] of Object.entries({ startupProbe: c.startupProbe, readinessProbe: c.readinessProbe, livenessProbe: c.livenessProbe })) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (typeof port === 'string' && !ports.has(port)) problems.push(`${id}: ${where}: ${probeName} names port "${port}" the container does not have`);
      }
      if (options.hardening) {
        const sc = c.securityContext ?? {};
        if (sc.readOnlyRootFilesystem !== true) problems.push(`${id}: ${where}: readOnlyRootFilesystem is not true`);
        if (sc.allowPrivilegeEscalation !== false) problems.push(`${id}: ${where}: allowPrivilegeEscalation is not false`);
        if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${id}: ${where}: capabilities do not drop ALL`);
        if (sc.privileged) problems.push(`${id}: ${where}: privileged`);
        if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory) {
          problems.push(`${id}: ${where}: resources need cpu+memory requests and a memory limit`);
        }
        if (o.kind !== 'Job' && o.kind !== 'CronJob' && (!c.readinessProbe || !c.livenessProbe)) {
          problems.push(`${id}: ${where}: needs readiness and liveness probes`);
        }
      }
    }
    for (const v of spec.volumes ?? []) {
      if (v.secret) needSecret(id, v.secret.secretName, undefined, `volume ${v.name}`);
      if (v.configMap) needConfigMap(id, v.configMap.name, undefined, `volume ${v.name}`);
    }
    if (options.hardening) {
      const psc = spec.securityContext ?? {};
      if (psc.runAsNonRoot !== true) problems.push(`${id}: pod securityContext.runAsNonRoot is not true`);
      if (psc.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${id}: pod seccompProfile is not RuntimeDefault`);
    }
  }

  const podLabelSets = workloads.map(({ o }) => ({ ns: o.metadata?.namespace, labels: podSpecOf(o)?.metadata?.labels ?? {}, o }));
  const services = byKind('Service');
  for (const s of services) {
    const id = `Service/${s.metadata.name}`;
    if (!s.spec?.selector) continue;
    const backends = podLabelSets.filter((p) => p.ns === s.metadata.namespace && matches(s.spec.selector, p.labels));
    if (backends.length === 0) {
      problems.push(`${id}: selector matches no pod template`);
      continue;
    }
    for (const port of s.spec.ports ?? []) {
      if (typeof port.targetPort !== 'string') continue;
      const named = backends.some((b) => (podSpecOf(b.o).spec?.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort)));
      if (!named) problems.push(`${id}: targetPort "${port.targetPort}" is no container port of its pods`);
    }
  }
  for (const m of byKind('ServiceMonitor')) {
    const id = `ServiceMonitor/${m.metadata.name}`;
    const targets = services.filter((s) => matches(m.spec?.selector?.matchLabels, s.metadata?.labels));
    if (targets.length === 0) problems.push(`${id}: selector matches no Service`);
    for (const ep of m.spec?.endpoints ?? []) {
      if (ep.port && !targets.some((s) => (s.spec?.ports ?? []).some((p) => p.name === ep.port))) {
        problems.push(`${id}: endpoint port "${ep.port}" is no port of the selected Services`);
      }
    }
  }
  // An AlertmanagerConfig whose webhook URL Secret is missing is skipped by the Operator.
  for (const c of byKind('AlertmanagerConfig')) {
    for (const r of c.spec?.receivers ?? []) {
      for (const [i, w] of (r.webhookConfigs ?? []).entries()) {
        if (w.urlSecret) needSecret(`AlertmanagerConfig/${c.metadata.name}`, w.urlSecret.name, w.urlSecret.key, `receiver ${r.name} webhookConfigs/${i}`);
      }
    }
  }
  for (const np of byKind('NetworkPolicy')) {
    const id = `NetworkPolicy/${np.metadata.name}`;
    const selectors = [np.spec?.podSelector?.matchLabels];
    for (const rule of np.spec?.ingress ?? []) for (const f of rule.from ?? []) if (f.podSelector && !f.namespaceSelector) selectors.push(f.podSelector.matchLabels);
    for (const sel of selectors) {
      if (sel && Object.keys(sel).length > 0 && !podLabelSets.some((p) => matches(sel, p.labels))) {
        problems.push(`${id}: pod selector ${JSON.stringify(sel)} matches no pod template`);
      }
    }
  }
  for (const pdb of byKind('PodDisruptionBudget')) {
    if (!podLabelSets.some((p) => matches(pdb.spec?.selector?.matchLabels, p.labels))) {
      problems.push(`PodDisruptionBudget/${pdb.metadata.name}: selector matches no pod template`);
    }
  }
  // Autoscalers: an HPA, or a KEDA ScaledObject (which creates an HPA of its own). Each must
  // scale a rendered workload that leaves spec.replicas to it, with min <= max, and no workload
  // may have two of them (their HPAs would fight over the replica count).
  const autoscalers = [
    ...byKind('HorizontalPodAutoscaler').map((o) => ({ id: `HorizontalPodAutoscaler/${o.metadata.name}`,
      ref: o.spec?.scaleTargetRef ?? {}, min: o.spec?.minReplicas ?? 1, max: o.spec?.maxReplicas })),
    // KEDA's defaults: kind Deployment, minReplicaCount 0, maxReplicaCount 100.
    ...byKind('ScaledObject').map((o) => ({ id: `ScaledObject/${o.metadata.name}`,
      ref: { kind: 'Deployment', ...o.spec?.scaleTargetRef }, min: o.spec?.minReplicaCount ?? 0, max: o.spec?.maxReplicaCount ?? 100 })),
  ];
  const scaledBy = new Map();
  for (const { id, ref, min, max } of autoscalers) {
    const target = byKind(ref.kind).find((o) => o.metadata?.name === ref.name);
    if (!target) problems.push(`${id}: scaleTargetRef ${ref.kind}/${ref.name} is not rendered`);
    else if (target.spec?.replicas !== undefined) {
      problems.push(`${id}: ${ref.kind}/${ref.name} also sets spec.replicas (each apply would fight the autoscaler)`);
    }
    if (typeof min === 'number' && typeof max === 'number' && min > max) problems.push(`${id}: min replicas ${min} > max replicas ${max}`);
    const key = `${ref.kind}/${ref.name}`;
    if (scaledBy.has(key)) problems.push(`${id}: ${key} is also scaled by ${scaledBy.get(key)} (two HPAs fight over its replicas)`);
    else scaledBy.set(key, id);
  }
  // The CRD types a trigger's metadata only as strings; what a scaler needs is KEDA's code.
  // The prometheus scaler: https://keda.sh/docs/latest/scalers/prometheus/
  const prometheusKeys = new Set(['serverAddress', 'query', 'threshold', 'activationThreshold', 'queryParameters',
    'namespace', 'customHeaders', 'ignoreNullValues', 'unsafeSsl', 'timeout', 'authModes']);
  const isNumber = (v) => typeof v === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(v);
  for (const so of byKind('ScaledObject')) {
    for (const [i, t] of (so.spec?.triggers ?? []).entries()) {
      if (t?.type !== 'prometheus') continue;
      const where = `ScaledObject/${so.metadata.name}: /spec/triggers/${i}/metadata`;
      const m = t.metadata ?? {};
      for (const key of ['serverAddress', 'query', 'threshold']) if (!m[key]) problems.push(`${where}: prometheus trigger needs "${key}"`);
      for (const key of Object.keys(m)) if (!prometheusKeys.has(key)) problems.push(`${where}: unknown prometheus trigger field "${key}"`);
      if (m.serverAddress && !/^https?:\/\/[^/\s]+/.test(m.serverAddress)) problems.push(`${where}: serverAddress must be an http(s) URL`);
      if (m.threshold && !(isNumber(m.threshold) && Number(m.threshold) > 0)) problems.push(`${where}: threshold must be a number above 0`);
      if (m.activationThreshold !== undefined && !isNumber(m.activationThreshold)) problems.push(`${where}: activationThreshold must be a number`);
      for (const key of ['ignoreNullValues', 'unsafeSsl']) {
        if (m[key] !== undefined && m[key] !== 'true' && m[key] !== 'false') problems.push(`${where}: ${key} must be "true" or "false"`);
      }
    }
  }
  for (const ing of byKind('Ingress')) {
    for (const rule of ing.spec?.rules ?? []) {
      for (const p of rule.http?.paths ?? []) {
        const svc = services.find((s) => s.metadata.name === p.backend?.service?.name);
        if (!svc) problems.push(`Ingress/${ing.metadata.name}: backend Service ${p.backend?.service?.name} is not rendered`);
        else if (p.backend.service.port?.name && !(svc.spec?.ports ?? []).some((x) => x.name === p.backend.service.port.name)) {
          problems.push(`Ingress/${ing.metadata.name}: Service ${svc.metadata.name} has no port "${p.backend.service.port.name}"`);
        }
      }
    }
    for (const t of ing.spec?.tls ?? []) if (t.secretName) needSecret(`Ingress/${ing.metadata.name}`, t.secretName, undefined, 'tls');
  }
  return problems;
}
