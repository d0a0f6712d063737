'use strict';
/* certs.js: throwaway certificates for the TLS tests, made with the
 * openssl CLI: a CA, and server / client certificates signed by it. */

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/* A CA in dir: returns {dir, name, cert, key} (paths). */
function makeCa(dir, name = 'ca') {
  fs.mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-days', '2', '-subj', `/CN=switchboard test ${name}`], dir);
  return { dir, name, cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

/* A certificate signed by ca: {cert, key} paths. keyType 'rsa' or 'ec'.
 * Server certificates name 127.0.0.1 and localhost. */
function makeCert(ca, name, { keyType = 'rsa', client = false } = {}) {
  const { dir } = ca;
  const keyArgs = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  openssl(['req', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, client ? 'extendedKeyUsage=clientAuth\n' : 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-out', `${name}.pem`, '-days', '2', '-extfile', ext], dir);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

module.exports = { makeCa, makeCert };
