// The REST-only JSON shapes (docs/api.md), generated from the gateway's Rust types into
// crates/gateway/typescript/rest.ts (`@rest`); everything the WebSocket also carries comes
// from `@proto`. Nothing here is written by hand.
export type {
  AccountKind,
  ConversationDetail,
  EventAck,
  EventList,
  MeView,
  PresenceEntry,
  SentMessage,
  SessionResponse,
  UserView,
} from "@rest";
