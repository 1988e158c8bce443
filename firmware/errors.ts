// Which failures are the user's to fix (a bad file, filter, number, board or address: exit 2 with
// the message alone) and which are ours (exit 1 with the stack, so it can be reported).

import { FilterError } from './shell/filter/index.ts';
import { SessionError } from './shell/sessions/compile.ts';
import { TemplateError } from './shell/sessions/template.ts';
import { RuleFileError } from './shell/tables/classbench.ts';
import { TableTooLargeError } from './shell/tables/tree.ts';
import { AddressError } from './shell/net/address.ts';
import { CaptureFormatError } from '../hal/drivers/pcap/format/index.ts';
import { MemoryBudgetError, TablePublishError } from './runtime/dataplane.ts';
import { BoardError } from './runtime/board.ts';
import { InterfaceError } from '../hal/drivers/linux/errors.ts';
import { LinuxAddonError } from '../hal/drivers/linux/native.ts';
import { WccpConfigError } from './shell/wccp/router/config.ts';
import { ImageBuildError, ImageError, KeyError, SlotError, VersionError } from './runtime/image/errors.ts';
import { EliminateOptionError, PeerOptionError } from './peer/errors.ts';
import { BootOptionError } from './runtime/boot-errors.ts';
import { TransparentRoutingError } from './peer/transparent.ts';
import { ConfigError, StateError } from './shell/config/errors.ts';
import { KeyFileError } from './shell/mgmt/keyfile.ts';
import { ControlError } from './shell/control.ts';
import { ManagementConnectionError, ManagementError } from './shell/mgmt/protocol.ts';
import { CtlUsageError } from './shell/mgmt/ctl-command.ts';

const USER_ERRORS: ReadonlyArray<new (...args: never[]) => Error> = [
  FilterError, SessionError, TemplateError, RuleFileError, TableTooLargeError, AddressError, CaptureFormatError,
  MemoryBudgetError, TablePublishError, BoardError, InterfaceError, LinuxAddonError, WccpConfigError,
  // Firmware images, keys and slot directories (firmware/runtime/image/).
  ImageError, ImageBuildError, KeyError, SlotError, VersionError,
  PeerOptionError, BootOptionError,
  // The far end of dup (firmware/peer/eliminate.ts).
  EliminateOptionError,
  // The transparent cache's policy routing (firmware/peer/transparent.ts): not root, a table in use.
  TransparentRoutingError,
  // Configuration, saved state and the management port (firmware/shell/config, firmware/shell/mgmt).
  ConfigError, StateError, KeyFileError, ManagementError, ManagementConnectionError, CtlUsageError,
  // A configuration the board cannot run (firmware/shell/router.ts).
  ControlError,
];
const FILE_ERROR_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EROFS', 'EPERM']);

export function isUserError(e: unknown): boolean {
  if (USER_ERRORS.some((cls) => e instanceof cls)) return true;
  return typeof e === 'object' && e !== null && FILE_ERROR_CODES.has((e as { code?: string }).code ?? '');
}

export function describeError(e: unknown): string {
  if (isUserError(e)) return (e as Error).message;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
