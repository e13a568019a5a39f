//! The presence operations as Lua scripts: each one is atomic and one round trip.
//!
//! Presence lives in one sorted set per user, members `{pod_id}/{connection_id}` scored by
//! expiry in unix milliseconds; a member is live while its score is greater than `now`.
//! A user goes offline when the script that removes their last member says so: since every
//! removal happens inside one of these scripts, exactly one caller learns it.
//!
//! The scripts build per-user key names from a prefix passed in `ARGV`, so they need a
//! standalone Redis (or a cluster where every key of the prefix lives in one slot).

use fred::{
    clients::Client,
    error::Error as FredError,
    interfaces::LuaInterface,
    types::{FromValue, MultipleKeys, MultipleValues},
};
use sha1::{Digest, Sha1};

/// `KEYS`: presence set, pod liveness key, pods set, pod's users set.
/// `ARGV`: now, expiry, member, pod TTL (ms), pod id, user id.
/// Returns 1 when the user had no live member before.
pub(super) const CONNECTION_OPENED: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local was_offline = redis.call('ZCARD', KEYS[1]) == 0
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[4], ARGV[6])
if was_offline then return 1 end
return 0
";

/// `KEYS`: presence set, pod's users set.
/// `ARGV`: now, member, this pod's member prefix, user id.
/// Returns 1 when the member existed and the user has no live member left: a second close
/// of the same connection, or one whose member a sweep already removed, returns 0.
pub(super) const CONNECTION_CLOSED: &str = r"
local existed = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local pod_has_more = false
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, #ARGV[3]) == ARGV[3] then
    pod_has_more = true
    break
  end
end
if not pod_has_more then
  redis.call('SREM', KEYS[2], ARGV[4])
end
if existed and redis.call('ZCARD', KEYS[1]) == 0 then return 1 end
return 0
";

/// `KEYS`: pod liveness key, pods set, pod's users set.
/// `ARGV`: pod TTL (ms), pod id, expiry, presence key prefix, this pod's member prefix, then
/// user id and member pairs.
///
/// A user of the pod's users set without a listed connection stays in it while the pod still
/// has a member for them (an expired one, which a sweep will report), so that it is not
/// forgotten before it is announced.
pub(super) const HEARTBEAT: &str = r"
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
local current = {}
for i = 6, #ARGV, 2 do
  redis.call('ZADD', ARGV[4] .. ARGV[i], ARGV[3], ARGV[i + 1])
  current[ARGV[i]] = true
end
for _, user in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if not current[user] then
    local keep = false
    for _, member in ipairs(redis.call('ZRANGE', ARGV[4] .. user, 0, -1)) do
      if string.sub(member, 1, #ARGV[5]) == ARGV[5] then
        keep = true
        break
      end
    end
    if not keep then
      redis.call('SREM', KEYS[3], user)
    end
  end
end
for user in pairs(current) do
  redis.call('SADD', KEYS[3], user)
end
return 0
";

/// `KEYS`: presence sets. `ARGV`: now.
/// Returns the 1-based indexes of the keys with a live member.
pub(super) const ONLINE_USERS: &str = r"
local online = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZCOUNT', key, '(' .. ARGV[1], '+inf') > 0 then
    table.insert(online, i)
  end
end
return online
";

/// `KEYS`: pods set. `ARGV`: pod liveness key prefix, sweep lock prefix, this pod's id,
/// lock TTL (ms).
/// Returns the pods whose liveness key is gone and whose sweep lock this call took.
pub(super) const CLAIM_DEAD_PODS: &str = r"
local claimed = {}
for _, pod in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if pod ~= ARGV[3] and redis.call('EXISTS', ARGV[1] .. pod) == 0 then
    if redis.call('SET', ARGV[2] .. pod, '1', 'NX', 'PX', ARGV[4]) then
      table.insert(claimed, pod)
    end
  end
end
return claimed
";

/// `KEYS`: the pod's users set, the pod's liveness key, pods set.
/// `ARGV`: now, presence key prefix, the pod's member prefix, the pod's id, `dead` or `live`.
///
/// For every user of the pod: removes expired members (of any pod) and, when the pod is dead,
/// all of the pod's members. Returns the users left without a live member by this call.
/// A dead pod that came back (its liveness key exists again) is left alone; a swept dead pod
/// is forgotten. A live pod keeps the users it still has a member for.
pub(super) const SWEEP_POD: &str = r"
local dead = ARGV[5] == 'dead'
if dead and redis.call('EXISTS', KEYS[2]) == 1 then
  return {}
end
local offline = {}
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. user
  local removed = redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  local pod_has_more = false
  for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(member, 1, #ARGV[3]) == ARGV[3] then
      if dead then
        removed = removed + redis.call('ZREM', key, member)
      else
        pod_has_more = true
      end
    end
  end
  if removed > 0 and redis.call('ZCARD', key) == 0 then
    table.insert(offline, user)
  end
  if not pod_has_more then
    redis.call('SREM', KEYS[1], user)
  end
end
if dead then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[3], ARGV[4])
end
return offline
";

/// `KEYS`: the pod's users set, the pod's liveness key.
/// `ARGV`: presence key prefix, the pod's member prefix.
///
/// Shutdown: the pod's members are marked expired (so they stop counting at once) and its
/// liveness key is deleted, but the pod stays listed: the next sweep of another pod removes
/// them and announces the users left offline, which this pod can no longer do.
pub(super) const POD_CLOSED: &str = r"
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. user
  for _, member in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(member, 1, #ARGV[2]) == ARGV[2] then
      redis.call('ZADD', key, 'XX', 0, member)
    end
  end
end
redis.call('DEL', KEYS[2])
return 0
";

/// A script run with `EVALSHA`, loaded again when Redis does not know it (after a restart).
/// Moves a room's claim from the node the caller saw (ARGV[1], '' = none) to ARGV[2],
/// keeping per-node claim counts and room sets; 0 when another gateway changed the claim
/// first. KEYS: claim, claimed-counts hash, ARGV[2]'s room set, ARGV[1]'s room set; ARGV[3]:
/// the room.
pub(super) const SFU_CLAIM_ROOM: &str = r"
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('SADD', KEYS[3], ARGV[3])
if current ~= '' then
  if redis.call('HINCRBY', KEYS[2], current, -1) <= 0 then redis.call('HDEL', KEYS[2], current) end
  redis.call('SREM', KEYS[4], ARGV[3])
end
return 1
";

/// Forgets a room's claim if it is still on ARGV[1]. KEYS: claim, claimed-counts hash, the
/// node's room set; ARGV: node id, room.
pub(super) const SFU_RELEASE_ROOM: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[2])
if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
";

/// Forgets a dead node and the claims still on it; returns the rooms released. KEYS: node
/// records hash, claimed-counts hash, the node's room set; ARGV: node id, claim key prefix.
/// (Claim keys are built here from the prefix: Convene's Redis is one instance, not a
/// cluster.)
pub(super) const SFU_FORGET_NODE: &str = r"
local released = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local claim = ARGV[2] .. room
  if redis.call('GET', claim) == ARGV[1] then
    redis.call('DEL', claim)
    table.insert(released, room)
  end
end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return released
";

pub(super) struct Script {
    lua: &'static str,
    sha1: String,
}

impl Script {
    pub(super) fn new(lua: &'static str) -> Self {
        let digest = Sha1::digest(lua.as_bytes());
        let sha1 = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Self { lua, sha1 }
    }

    pub(super) async fn run<R: FromValue>(
        &self,
        client: &Client,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<R, FredError> {
        let keys = MultipleKeys::from(keys);
        let args = MultipleValues::try_from(args)?;
        match client
            .evalsha(self.sha1.as_str(), keys.clone(), args.clone())
            .await
        {
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                // EVAL also puts the script back in Redis's cache for the next EVALSHA.
                client.eval(self.lua, keys, args).await
            }
            result => result,
        }
    }
}

/// Every script, hashed once per bus.
pub(super) struct Scripts {
    pub(super) connection_opened: Script,
    pub(super) connection_closed: Script,
    pub(super) heartbeat: Script,
    pub(super) online_users: Script,
    pub(super) claim_dead_pods: Script,
    pub(super) sweep_pod: Script,
    pub(super) pod_closed: Script,
    pub(super) sfu_claim_room: Script,
    pub(super) sfu_release_room: Script,
    pub(super) sfu_forget_node: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            connection_opened: Script::new(CONNECTION_OPENED),
            connection_closed: Script::new(CONNECTION_CLOSED),
            heartbeat: Script::new(HEARTBEAT),
            online_users: Script::new(ONLINE_USERS),
            claim_dead_pods: Script::new(CLAIM_DEAD_PODS),
            sweep_pod: Script::new(SWEEP_POD),
            pod_closed: Script::new(POD_CLOSED),
            sfu_claim_room: Script::new(SFU_CLAIM_ROOM),
            sfu_release_room: Script::new(SFU_RELEASE_ROOM),
            sfu_forget_node: Script::new(SFU_FORGET_NODE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_hash_is_redis_sha1_of_the_source() {
        // `redis-cli SCRIPT LOAD "return 1"` answers this hash.
        assert_eq!(
            Script::new("return 1").sha1,
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
    }
}
