// Types of the `zss` package: ZSS (ZeroMQ Service Suite) client, service and broker.

/** What a payload or header value may be: what JSON can hold (plus BigInt within 64 bits). */
export type Payload =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Payload[]
  | { [key: string]: Payload };

/** Headers: a plain object of payload values. */
export type Headers = { [key: string]: Payload };

/** A decoded payload as received (binary from old peers arrives as a Buffer, a Uint8Array). */
export type Received = null | boolean | number | string | Uint8Array | Received[] | { [key: string]: Received };

/**
 * A CURVE key: the 40-character Z85 text, the path of a key file (`zss keygen`'s `NAME.key` /
 * `NAME.pub`), or `"env:VAR"` (an environment variable holding the Z85 text).
 */
export type KeySpec = string;

/** A CURVE key pair as Z85 text (what {@link generateKeypair} returns). Keep `secretKey` private. */
export interface KeyPair {
  publicKey: string;
  secretKey: string;
}

/**
 * The `curve` option of a client or service: the broker's public key and this peer's key pair
 * (or its secret key alone; the public key is derived). A key that does not parse throws a
 * TypeError; there is no plaintext fallback.
 */
export interface CurveOptions {
  brokerKey: KeySpec;
  keypair: KeySpec | KeyPair | { publicKey?: KeySpec; secretKey: KeySpec };
}

/** Broker endpoints: one string (several may be separated by commas) or an array of strings. */
export type Brokers = string | readonly string[];

export interface ClientOptions {
  /**
   * The broker's frontend, default `tcp://127.0.0.1:7777`, or several brokers: an array of
   * frontends or one comma-separated string. Calls then go to the broker with the fewest calls
   * in flight among those that are up.
   */
  broker?: Brokers;
  /** The service calls go to unless a call names another. */
  sid?: string;
  /** Socket identity prefix: the identity is `<identity>#<uuid>`. Default `client`. */
  identity?: string;
  /** Per-call timeout in ms (default 1000); a call that times out rejects with code 599. */
  timeout?: number;
  /** Headers sent with every call; a call's own headers are merged over them. */
  headers?: Headers;
  /**
   * Encrypt with CURVE. A broker that refuses the handshake (wrong broker key, our key not on
   * its allow list) makes calls reject within about a second with a ZssError 401 whose
   * `authenticationFailed` is true. Null or absent: plaintext.
   */
  curve?: CurveOptions | null;
  /** With several brokers, ms between pings to each. Default 1000. */
  heartbeat?: number;
  /**
   * How many heartbeat intervals without a word from a broker make it lost (default 3): its
   * calls in flight then reject with `brokerLost` (or are re-sent: {@link CallOptions.retries}).
   */
  lostAfter?: number;
}

export interface CallOptions {
  timeout?: number;
  headers?: Headers;
  sid?: string;
  /**
   * How many times the call may be re-sent to another broker when its broker is lost with it
   * in flight (default 0: it rejects with a ZssError 503 whose `brokerLost` is true). Only for
   * calls safe to run twice: the lost broker may have delivered it already.
   */
  retries?: number;
  /** Safe to run twice: the same as `retries: 2` (an explicit `retries` wins). */
  idempotent?: boolean;
}

/** A successful (2xx) reply. */
export interface Reply<T = Received> {
  payload: T;
  headers: { [key: string]: Received };
  /** 200, 204 (no payload), or the 2xx status the service chose. */
  status: number;
}

/**
 * One socket to a broker's frontend, any number of calls in flight on it.
 */
export class Client {
  constructor(config?: ClientOptions);
  readonly config: Required<Pick<ClientOptions, 'broker' | 'identity' | 'timeout' | 'headers'>> & ClientOptions;
  /** The socket identity, `<identity>#<uuid>`. */
  readonly identity: string;
  /** The brokers' frontends. */
  readonly brokers: string[];
  /** The brokers' ping interval (ms) and the silent intervals that make one lost. */
  readonly liveness: { heartbeat: number; lostAfter: number };
  /**
   * Replaces the brokers: new ones are connected; one no longer listed takes no new calls and
   * is closed once its calls in flight are answered.
   */
  setBrokers(broker: Brokers): void;
  /**
   * Resolves for any 2xx reply. Rejects with a {@link ZssError} for any other status (599 on
   * timeout, 404 for an unknown service or verb, 401 with `authenticationFailed` when the
   * broker refused our CURVE handshake, 503 with `brokerLost` when the call's broker was lost
   * with it in flight, ...), with a TypeError for a payload, header
   * or option that cannot be sent (Buffers, Dates, functions, cycles, an empty verb).
   */
  call<T = Received>(verb: string, payload?: Payload, options?: CallOptions): Promise<Reply<T>>;
  /**
   * The broker's management interface: `PING`, `INFO`, `SERVICES` or `STATS`; resolves the
   * reply's payload. Rejects with a ZssError 404 for an unknown verb.
   */
  management<T = any>(verb: 'PING' | 'INFO' | 'SERVICES' | 'STATS' | (string & {}), options?: Pick<CallOptions, 'timeout'>): Promise<T>;
  /** Closes the socket; calls in flight reject with code 500. Idempotent. */
  close(): void;
}

/** The fields of an error reply, plus any extra fields of its payload. */
export interface ZssErrorFields {
  userMessage?: string;
  developerMessage?: string;
  [extra: string]: unknown;
}

/**
 * An error reply (any non-2xx status; 599 for a client-side timeout), and what a handler
 * throws to answer with a chosen status. Extra payload fields are own properties.
 */
export class ZssError extends Error {
  constructor(code: number, fields?: ZssErrorFields);
  readonly code: number;
  /** Same as `code` (the broker's spelling). */
  readonly errorCode: number;
  readonly userMessage: string;
  readonly developerMessage: string;
  /** Set (true) on the 401 of a refused CURVE handshake or registration: retrying will not help. */
  readonly authenticationFailed?: boolean;
  /** Set (true) on the 503 of a call whose broker was lost with it in flight: it may or may not have run. */
  readonly brokerLost?: boolean;
  [extra: string]: unknown;
  /** The error payload as sent on the wire. */
  toJSON(): { code: number; userMessage: string; developerMessage: string; errorCode: number; [extra: string]: unknown };
}

/** The request as a handler sees it (shaped like the original service's message). */
export class Message {
  readonly protocol: 'ZSS:0.0';
  readonly type: 'REQ';
  /** The calling client's socket identity, `<prefix>#<uuid>`. */
  readonly identity: string;
  /** The calling client's identity prefix (before `#`). */
  readonly client: string;
  /** The request id. */
  readonly rid: string;
  readonly address: { sid: string; sversion: string; verb: string };
  /** The request headers; changes are sent back in the reply. */
  headers: { [key: string]: Received };
  readonly payload: Received;
  /** Set to a 2xx status to answer with it (default 200, or 204 without a payload). */
  status?: number;
}

/** The original callback style: `callback(err, payload)`. */
export type CallbackHandler = (
  payload: any,
  message: Message,
  callback: (err: unknown, payload?: Payload) => void,
) => void | Promise<void>;

/** A function returning the payload, or a Promise of it (an async function). */
export type AsyncHandler = (payload: any, message: Message) => Payload | Promise<Payload>;

/**
 * Either style (a function of fewer parameters is assignable): the callback answers when a
 * handler declares 3 or more parameters, the return value (or its Promise) otherwise.
 */
export type Handler = (
  payload: any,
  message: Message,
  callback: (err: unknown, payload?: Payload) => void,
) => Payload | void | Promise<Payload | void>;

export interface ServiceOptions {
  /** The service id (upper-cased on the wire). Required. */
  sid: string;
  /**
   * The broker's backend, default `tcp://127.0.0.1:5560` (the original's default), or several
   * brokers (an array or a comma-separated string): the service registers with each.
   */
  broker?: Brokers;
  /** SMI heartbeat interval in ms. Default 1000. */
  heartbeat?: number;
  /** Requests handed to handlers and not yet answered, at most; more wait in the worker's queue. Default 1000. */
  concurrency?: number;
  /** Where handler failures answered with 500 are reported. Default: console.error. */
  onError?: (err: unknown, message: Message | undefined) => void;
  /**
   * Encrypt with CURVE. A service the broker refuses (wrong keys, or its key may not serve
   * the sid) stops by itself and {@link Service.error} says why. Null or absent: plaintext.
   */
  curve?: CurveOptions | null;
}

export class Service {
  constructor(config: ServiceOptions);
  readonly sid: string;
  /** The worker's socket identity once running. */
  readonly identity: string | null;
  /** Why the service stopped by itself (a refused CURVE handshake or registration: a 401), or null. */
  readonly error: ZssError | null;
  /** The brokers' backends. */
  readonly brokers: string[];
  /** Replaces the brokers; a running service registers with new ones and leaves the others. */
  setBrokers(broker: Brokers): void;
  onError: (err: unknown, message: Message | undefined) => void;
  /** Registers a handler (case-insensitive verb). Only before `run()`. */
  addVerb(verb: string, handler: Handler): this;
  addVerbs(verbs: Array<[string, Handler]>): this;
  /** Connects and registers with the broker (SMI UP); serves until `stop()`. */
  run(): this;
  /** Finishes requests in flight (bounded), unregisters (SMI DOWN), closes. Idempotent. */
  stop(): Promise<void>;
}

export interface BrokerOptions {
  /** Where clients connect. Default `tcp://127.0.0.1:5560`; a `*` port picks a free one. */
  frontend?: string;
  /** Where services connect. Default `tcp://127.0.0.1:5559`. */
  backend?: string;
  smi?: {
    /** The services' heartbeat interval, ms. Default 1000. */
    heartbeat?: number;
    /** A service silent for longer is dropped, ms. Default 1500. */
    maxTTL?: number;
    /** How often liveness is checked, ms. Default 100. */
    updateInterval?: number;
  };
  /** Serve CURVE on both sockets with this secret key (or key pair); plaintext peers get nothing through. */
  curveSecret?: KeySpec | KeyPair | null;
  /**
   * With `curveSecret`: the path of an allow list (one public key a line, optional `name=`,
   * `call=` and `serve=` permissions); only those keys may connect.
   */
  allow?: string | null;
}

export interface BrokerStats {
  requests: number;
  forwarded: number;
  replies: number;
  notFound: number;
  badRequests: number;
  unavailable: number;
  overloaded: number;
  malformedFrontend: number;
  malformedBackend: number;
  droppedReplies: number;
  smi: number;
  workersRemoved: number;
  workers: number;
  inFlight: number;
  /** Handshakes refused on the frontend / backend (keys not on the allow list). */
  authFailuresFrontend: number;
  authFailuresBackend: number;
  /** Calls and registrations answered 403 (key not permitted). */
  forbidden: number;
}

export class Broker {
  constructor(config?: BrokerOptions);
  /** Binds both sockets (throws for a bad or busy address) and serves on a native thread. */
  run(): this;
  /** The bound frontend endpoint (wildcard port resolved) once running. */
  readonly frontendEndpoint: string;
  readonly backendEndpoint: string;
  stats(): BrokerStats | Record<string, never>;
  /** Stops serving and closes the sockets. Idempotent. */
  stop(): Promise<void>;
}

/** The standard messages of a status code (those the core sends). */
export function statusMessages(code: number): { userMessage: string; developerMessage: string };
/** Whether the linked libzmq supports CURVE. */
export function hasCurve(): boolean;
/** A fresh CURVE key pair (throws when the linked libzmq has no CURVE). */
export function generateKeypair(): KeyPair;
/** This package's version. */
export const version: string;
/** The Rust core's version. */
export const coreVersion: string;
