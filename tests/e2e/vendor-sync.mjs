// Copies the pinned socket.io-client browser bundle into ws-gateway/web/vendor/ and rewrites
// vendor/README.md's version line. Run after changing the socket.io-client version: npm run vendor
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkgDir = path.join(here, 'node_modules/socket.io-client');
const vendorDir = path.join(here, '../../ws-gateway/web/vendor');
const { version, license } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
fs.copyFileSync(path.join(pkgDir, 'dist/socket.io.min.js'), path.join(vendorDir, 'socket.io.min.js'));
const readmePath = path.join(vendorDir, 'README.md');
const readme = fs.readFileSync(readmePath, 'utf8')
  .replace(/^- Version: .*$/m, `- Version: ${version}`)
  .replace(/^- License: .*$/m, `- License: ${license}`);
fs.writeFileSync(readmePath, readme);
console.log(`vendored socket.io-client ${version} (${license})`);
