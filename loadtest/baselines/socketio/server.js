// The seeds' stack, as its team would ship it: a Socket.IO chat server whose processes share
// rooms through the Redis adapter and commit every message to Postgres before acknowledging it.
// It exists so convene-loadtest can run the same scenarios against it and against Convene.
// Deliberately minimal: no authentication, no receipts, no presence (see README.md).
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const pg = require('pg');

// int8 columns (seq, sent_at_ms) as JS numbers: every value we store fits in 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

const PORT = Number(process.env.PORT || 3000);
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const NODE_ID = process.env.NODE_ID || `node-${process.pid}`;
// The pool size a Prisma default would give on a small machine; overridable for experiments.
const PG_POOL_MAX = Number(process.env.PG_POOL_MAX || 10);
// Its own Redis channel prefix, so it can share Redis with Convene's gateways without crosstalk.
const REDIS_KEY_PREFIX = process.env.REDIS_KEY_PREFIX || 'convene-baseline-socketio';

const MAX_TEXT_CHARS = 4096;
const MAX_ID_CHARS = 200;
const MAX_HISTORY_LIMIT = 500;
const DEFAULT_HISTORY_LIMIT = 100;

function log(message, fields = {}) {
  console.log(JSON.stringify({ node: NODE_ID, message, ...fields }));
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  last_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
  conversation TEXT NOT NULL,
  seq BIGINT NOT NULL,
  client_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  text TEXT NOT NULL,
  sent_at_ms BIGINT NOT NULL,
  PRIMARY KEY (conversation, seq),
  UNIQUE (conversation, client_id)
);
`;

// Two processes start at once against the same database: CREATE TABLE IF NOT EXISTS can still
// race on the catalog, so schema creation is serialised by an advisory lock.
async function createSchema(pool) {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(7355608)');
    try {
      await client.query(SCHEMA);
    } finally {
      await client.query('SELECT pg_advisory_unlock(7355608)');
    }
  } finally {
    client.release();
  }
}

class RequestError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function requireId(value, field) {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_CHARS) {
    throw new RequestError('bad_request', `${field} must be a string of 1 to ${MAX_ID_CHARS} characters`);
  }
  return value;
}

function requireObject(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new RequestError('bad_request', 'the payload must be an object');
  }
  return data;
}

async function lastSeq(pool, conversation) {
  const result = await pool.query('SELECT last_seq FROM conversations WHERE id = $1', [conversation]);
  return result.rows.length === 0 ? 0 : result.rows[0].last_seq;
}

// Commits one message and returns {seq, created}. The conversation's counter row is locked for
// the transaction, so seqs are gap-free and in commit order; a retried client_id returns the seq
// it already has (created = false) instead of a second copy.
async function commitMessage(pool, message) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      'INSERT INTO conversations (id, last_seq) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING',
      [message.conversation],
    );
    await client.query('SELECT last_seq FROM conversations WHERE id = $1 FOR UPDATE', [message.conversation]);
    const existing = await client.query(
      'SELECT seq FROM messages WHERE conversation = $1 AND client_id = $2',
      [message.conversation, message.client_id],
    );
    if (existing.rows.length > 0) {
      await client.query('COMMIT');
      return { seq: existing.rows[0].seq, created: false };
    }
    const counter = await client.query(
      'UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq',
      [message.conversation],
    );
    const seq = counter.rows[0].last_seq;
    await client.query(
      `INSERT INTO messages (conversation, seq, client_id, sender, text, sent_at_ms)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [message.conversation, seq, message.client_id, message.sender, message.text, message.sent_at_ms],
    );
    await client.query('COMMIT');
    return { seq, created: true };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function history(pool, conversation, afterSeq, limit) {
  const result = await pool.query(
    `SELECT conversation, seq, sender, client_id, text, sent_at_ms FROM messages
     WHERE conversation = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [conversation, afterSeq, limit],
  );
  return result.rows;
}

// Wraps an event handler: validation and database errors become {ok: false, error} acks; the
// internal cause is logged, never sent.
function handle(socket, event, handler) {
  socket.on(event, async (data, ack) => {
    const reply = typeof ack === 'function' ? ack : () => {};
    try {
      reply(await handler(data));
    } catch (error) {
      if (error instanceof RequestError) {
        reply({ ok: false, error: { code: error.code, message: error.message } });
      } else {
        log('request failed', { event, user: socket.data.user, error: String(error) });
        reply({ ok: false, error: { code: 'internal', message: 'the server could not do this' } });
      }
    }
  });
}

async function main() {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: PG_POOL_MAX });
  await createSchema(pool);

  const pubClient = createClient({ url: REDIS_URL });
  const subClient = pubClient.duplicate();
  pubClient.on('error', (error) => log('redis error', { error: String(error) }));
  subClient.on('error', (error) => log('redis error', { error: String(error) }));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const httpServer = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('ok');
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found');
  });

  const io = new Server(httpServer, {
    path: '/socket.io/',
    transports: ['websocket'],
    serveClient: false,
    adapter: createAdapter(pubClient, subClient, { key: REDIS_KEY_PREFIX }),
  });

  // No accounts: the handshake names the user and the server believes it.
  io.use((socket, next) => {
    const user = socket.handshake.auth && socket.handshake.auth.user;
    if (typeof user !== 'string' || user.length === 0 || user.length > MAX_ID_CHARS) {
      next(new Error('auth.user must be a non-empty string'));
      return;
    }
    socket.data.user = user;
    next();
  });

  io.on('connection', (socket) => {
    handle(socket, 'join', async (data) => {
      const conversation = requireId(requireObject(data).conversation, 'conversation');
      socket.join(`c:${conversation}`);
      return { ok: true, last_seq: await lastSeq(pool, conversation) };
    });

    handle(socket, 'send', async (data) => {
      requireObject(data);
      const conversation = requireId(data.conversation, 'conversation');
      const clientId = requireId(data.client_id, 'client_id');
      if (typeof data.text !== 'string' || data.text.length > MAX_TEXT_CHARS) {
        throw new RequestError('bad_request', `text must be a string of at most ${MAX_TEXT_CHARS} characters`);
      }
      if (!Number.isSafeInteger(data.sent_at_ms)) {
        throw new RequestError('bad_request', 'sent_at_ms must be an integer');
      }
      const message = {
        conversation,
        client_id: clientId,
        sender: socket.data.user,
        text: data.text,
        sent_at_ms: data.sent_at_ms,
      };
      const { seq, created } = await commitMessage(pool, message);
      // The ack goes out before the fan-out, as agreed; a retry is acknowledged, not re-sent.
      setImmediate(() => {
        if (created) {
          io.to(`c:${conversation}`).emit('message', {
            conversation,
            seq,
            sender: message.sender,
            client_id: clientId,
            text: message.text,
            sent_at_ms: message.sent_at_ms,
          });
        }
      });
      return { ok: true, seq };
    });

    handle(socket, 'history', async (data) => {
      requireObject(data);
      const conversation = requireId(data.conversation, 'conversation');
      const afterSeq = data.after_seq === undefined ? 0 : data.after_seq;
      if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
        throw new RequestError('bad_request', 'after_seq must be a non-negative integer');
      }
      const limit = data.limit === undefined ? DEFAULT_HISTORY_LIMIT : data.limit;
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
        throw new RequestError('bad_request', `limit must be an integer from 1 to ${MAX_HISTORY_LIMIT}`);
      }
      return { messages: await history(pool, conversation, afterSeq, limit) };
    });
  });

  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(PORT, '127.0.0.1', resolve);
  });
  log('listening', { port: httpServer.address().port, pid: process.pid });

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    log('stopping', { signal });
    // io.close() closes the HTTP server and every socket; then the backing clients.
    await new Promise((resolve) => io.close(() => resolve()));
    await Promise.allSettled([pubClient.quit(), subClient.quit(), pool.end()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  log('failed to start', { error: String(error) });
  process.exit(1);
});
