//! What every chat-like scenario does first: create its users and conversations on the
//! target, named after a fresh run id so that runs never collide.

use std::time::Duration;

use futures::StreamExt;

use crate::targets::{Connection, ConversationRef, Incoming, Target, UserAccount};
use crate::{Error, Result};

/// Users registered at once (each costs the server a password hash).
pub const REGISTER_CONCURRENCY: usize = 8;
/// Sockets opened at once.
pub const CONNECT_CONCURRENCY: usize = 32;
/// How long a subscription (resume or joins) may take to be answered.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// A short random id: usernames are `<run id>_u<index>` (3–32 characters, starting with a
/// letter, as Convene requires).
pub fn run_id() -> String {
    format!("lt{:08x}", rand::random::<u32>())
}

/// The users and conversations of a run; `membership[user_index]` is the index of the one
/// conversation the user is in.
pub struct Population {
    pub users: Vec<UserAccount>,
    pub conversations: Vec<ConversationRef>,
    pub membership: Vec<usize>,
}

/// Creates `user_count` users and `conversation_count` groups, user `i` in group
/// `i % conversation_count`.
pub async fn populate(
    target: &dyn Target,
    run_id: &str,
    user_count: usize,
    conversation_count: usize,
) -> Result<Population> {
    let users = create_users(target, run_id, user_count).await?;
    let membership: Vec<usize> = (0..user_count)
        .map(|index| index % conversation_count)
        .collect();
    let mut conversations = Vec::with_capacity(conversation_count);
    for conversation_index in 0..conversation_count {
        let members: Vec<UserAccount> = users
            .iter()
            .zip(&membership)
            .filter(|(_, m)| **m == conversation_index)
            .map(|(user, _)| user.clone())
            .collect();
        conversations.push(
            target
                .create_conversation(run_id, conversation_index, &members)
                .await?,
        );
    }
    Ok(Population {
        users,
        conversations,
        membership,
    })
}

pub async fn create_users(
    target: &dyn Target,
    run_id: &str,
    user_count: usize,
) -> Result<Vec<UserAccount>> {
    futures::stream::iter((0..user_count).map(|index| target.create_user(run_id, index)))
        .buffered(REGISTER_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Waits for the answer to a subscription, ignoring anything else that arrives first.
pub async fn wait_subscribed(connection: &mut Connection) -> Result<()> {
    tokio::time::timeout(SUBSCRIBE_TIMEOUT, async {
        while let Some(incoming) = connection.incoming.recv().await {
            match incoming {
                Incoming::Subscribed => return Ok(()),
                Incoming::Closed { .. } => return Err(Error::ConnectionClosed),
                Incoming::Error { code, message } => {
                    return Err(Error::Protocol {
                        peer: "server".to_owned(),
                        detail: format!("subscribing failed: {code}: {message}"),
                    });
                }
                _ => {}
            }
        }
        Err(Error::ConnectionClosed)
    })
    .await
    .map_err(|_| Error::Timeout {
        what: "the answer to resume/join".to_owned(),
    })?
}
