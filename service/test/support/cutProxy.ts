// A TCP proxy between the service and PostgreSQL that can cut a connection right after
// the server answered a COMMIT, before the answer reaches the client: the transaction is
// committed, and the client sees only a lost connection.
import net from 'node:net';

const COMMIT = Buffer.from('COMMIT\u0000');

export class CommitCuttingProxy {
  private server = net.createServer((client) => this.relay(client));
  private armed = false;
  /** Connections cut so far. */
  cuts = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** The next COMMIT sent through the proxy reaches the server; its answer does not come back. */
  cutAfterNextCommit(): void {
    this.armed = true;
  }

  /** The connection URL of the target, through the proxy. */
  url(targetUrl: string): string {
    const url = new URL(targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.target.port, this.target.host);
    let cutOnCommitAnswer = false;
    client.on('data', (chunk) => {
      if (this.armed && chunk.includes(COMMIT)) {
        this.armed = false;
        cutOnCommitAnswer = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (cutOnCommitAnswer && chunk.includes(COMMIT)) {
        // CommandComplete "COMMIT": the server committed. The client never hears it.
        this.cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  }
}
