// The command the UI prints for an operator to install a service engine on a host and join it.
import { shellCommand } from './shellquote.js';

// DEFAULT_SYSINT_PORT is the installer's default controller port for SEs
// (model/contract.DefaultSysintPort): -sysint is printed only for another.
export const DEFAULT_SYSINT_PORT = 8443;

// joinCommand installs an SE that joins the controller at host, whose SEs connect to port. The
// token goes in the environment (AVI_JOIN_TOKEN, which the installer reads, and sudo passes on
// for that variable alone), never on a command line where any user of the host could read it.
export function joinCommand(token, host, port) {
  const cmd = shellCommand`AVI_JOIN_TOKEN=${token} sudo --preserve-env=AVI_JOIN_TOKEN ./avi-init -s -m ${host}`;
  const p = Number(port);
  return p && p !== DEFAULT_SYSINT_PORT ? cmd + shellCommand` -sysint ${String(p)}` : cmd;
}
