// Errors a user causes with the linux driver: a board port naming an interface that is not
// there or not up. They name the interface; boot turns them into a BoardError naming the field.

export class InterfaceError extends Error {
  override readonly name = 'InterfaceError';
  constructor(readonly iface: string, readonly reason: 'missing' | 'down' | 'invalid', detail: string) {
    super(`interface "${iface}": ${detail}`);
  }
}
