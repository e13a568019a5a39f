// `window.__conveneMeeting`: the meeting's peer connections and state for end-to-end
// tests (like `window.__conveneCall` for calls). Not used by the app itself.
import type { MeetingClient } from "./meetingClient";
import type { LocalMedia } from "./meetingDevices";
import type { ViewPreference } from "./meetingLayout";
import type { MeetingPeers } from "./meetingRtc";
import type { MeetingState } from "./meetingState";

declare global {
  interface Window {
    __conveneMeeting?: {
      readonly pub: RTCPeerConnection | null;
      readonly sub: RTCPeerConnection | null;
      readonly state: MeetingState;
      readonly peers: MeetingPeers | null;
      readonly local: LocalMedia;
      /** The `meeting_view` preferences last sent, by stream id. */
      readonly views: Record<string, ViewPreference>;
      /** Presents `track` as the screen button does (a canvas in tests). */
      shareTrack: (track: MediaStreamTrack) => Promise<void>;
      stopSharing: () => Promise<void>;
    };
  }
}

export function installMeetingHook(client: MeetingClient): void {
  window.__conveneMeeting = {
    get pub() {
      return client.peerConnections?.pub ?? null;
    },
    get sub() {
      return client.peerConnections?.sub ?? null;
    },
    get state() {
      return client.state;
    },
    get peers() {
      return client.peerConnections;
    },
    get local() {
      return client.devices;
    },
    get views() {
      return Object.fromEntries(client.viewsSent);
    },
    shareTrack: (track) => client.shareTrack(track),
    stopSharing: () => client.stopSharing(),
  };
}
