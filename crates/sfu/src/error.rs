use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind the media socket {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the media socket is bound to {0}, a wildcard address: set the advertised address")]
    AdvertisedAddressRequired(SocketAddr),
    #[error("the sfu node has stopped")]
    Stopped,
    #[error("this node is full ({0})")]
    Full(&'static str),
    #[error("the session is not in a room on this node")]
    UnknownSession,
    #[error("webrtc: {0}")]
    WebRtc(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
