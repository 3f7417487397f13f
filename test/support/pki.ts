// Throwaway certificates for a test control plane, made with openssl: a CA,
// the API server's serving certificate, client certificates, and the
// ServiceAccount token signing key pair. Does I/O.
import { isIP } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./process.js";

/** Paths of the files {@link createPki} wrote. */
export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
  /** Client certificate the API server presents to kubelets (only with `kubeletClient`). */
  kubeletClientCert?: string;
  kubeletClientKey?: string;
}

/** Options of {@link createPki}. */
export interface PkiOptions {
  dir: string;
  /** IP addresses the serving certificate is valid for, besides 127.0.0.1, ::1 and the service IP. */
  extraSANs?: string[];
  /** First address of the service range (the `kubernetes` Service's ClusterIP). */
  serviceIP: string;
  /** Also a client certificate for the API server's connections to kubelets (exec, logs). */
  kubeletClient?: boolean;
}

const DAYS = "3650";
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
// openssl's req needs a config with a distinguished_name section; nothing else is taken from it.
const REQ_CONFIG = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n";

async function openssl(args: string[]): Promise<void> {
  await runCommand("openssl", args);
}

interface LeafOptions {
  dir: string;
  name: string;
  subject: string;
  extensions: string;
}

async function signLeaf(pki: { caCert: string; caKey: string; reqConfig: string }, opts: LeafOptions): Promise<[string, string]> {
  const key = join(opts.dir, `${opts.name}.key`);
  const csr = join(opts.dir, `${opts.name}.csr`);
  const cert = join(opts.dir, `${opts.name}.crt`);
  const ext = join(opts.dir, `${opts.name}.ext`);
  writeFileSync(ext, opts.extensions);
  await openssl(["req", "-new", "-nodes", ...EC, "-keyout", key, "-out", csr, "-subj", opts.subject, "-config", pki.reqConfig]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    pki.caCert,
    "-CAkey",
    pki.caKey,
    "-set_serial",
    `0x${Date.now().toString(16)}${opts.name.length}`,
    "-days",
    DAYS,
    "-sha256",
    "-extfile",
    ext,
    "-out",
    cert,
  ]);
  return [cert, key];
}

/** Creates a CA, serving and admin client certificates, and the ServiceAccount key pair in `opts.dir`. */
export async function createPki(opts: PkiOptions): Promise<Pki> {
  const { dir } = opts;
  const reqConfig = join(dir, "openssl-req.cnf");
  writeFileSync(reqConfig, REQ_CONFIG);
  const caCert = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  const caConfig = join(dir, "openssl-ca.cnf");
  writeFileSync(
    caConfig,
    `${REQ_CONFIG}[v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n`,
  );
  await openssl([
    "req",
    "-x509",
    "-new",
    "-nodes",
    ...EC,
    "-keyout",
    caKey,
    "-out",
    caCert,
    "-days",
    DAYS,
    "-subj",
    "/CN=keepalived-vip-test-ca",
    "-config",
    caConfig,
    "-extensions",
    "v3_ca",
  ]);
  const ips = ["127.0.0.1", "::1", opts.serviceIP, ...(opts.extraSANs ?? [])];
  for (const ip of ips) if (isIP(ip) === 0) throw new Error(`extra SAN ${ip} is not an IP address`);
  const dns = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];
  const san = [...dns.map((d) => `DNS:${d}`), ...[...new Set(ips)].map((ip) => `IP:${ip}`)].join(", ");
  const ca = { caCert, caKey, reqConfig };
  const leafBase = "authorityKeyIdentifier = keyid\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n";
  const saKey = join(dir, "sa.key");
  const saPub = join(dir, "sa.pub");
  const [[serverCert, serverKey], [adminCert, adminKey]] = await Promise.all([
    signLeaf(ca, { dir, name: "apiserver", subject: "/CN=kube-apiserver", extensions: `${leafBase}extendedKeyUsage = serverAuth\nsubjectAltName = ${san}\n` }),
    signLeaf(ca, { dir, name: "admin", subject: "/O=system:masters/CN=admin", extensions: `${leafBase}extendedKeyUsage = clientAuth\n` }),
    (async () => {
      await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", saKey]);
      await openssl(["pkey", "-in", saKey, "-pubout", "-out", saPub]);
    })(),
  ]);
  const pki: Pki = { caCert, caKey, serverCert, serverKey, adminCert, adminKey, saKey, saPub };
  if (opts.kubeletClient) {
    [pki.kubeletClientCert, pki.kubeletClientKey] = await signClientCert(
      pki,
      dir,
      "apiserver-kubelet-client",
      "/O=system:masters/CN=kube-apiserver-kubelet-client",
    );
  }
  return pki;
}

/** A client certificate signed by the CA of `pki` (subject e.g. /O=system:nodes/CN=system:node:node-a); resolves [cert, key] paths in `dir`. */
export async function signClientCert(pki: Pick<Pki, "caCert" | "caKey">, dir: string, name: string, subject: string): Promise<[string, string]> {
  const reqConfig = join(dir, "openssl-req.cnf");
  writeFileSync(reqConfig, REQ_CONFIG);
  const extensions =
    "authorityKeyIdentifier = keyid\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n";
  return signLeaf({ caCert: pki.caCert, caKey: pki.caKey, reqConfig }, { dir, name, subject, extensions });
}
