// A curated set of common emoji for the picker and reactions, each with words to search by.
// (A full Unicode table would weigh more than the rest of the app.)

const TABLE = `
😀 grin smile happy|😃 smile happy|😄 laugh smile|😁 beam grin|😆 laugh lol|😅 sweat relief|🤣 rofl laugh|😂 joy tears laugh lol|🙂 slight smile|🙃 upside down|😉 wink|😊 blush smile|😇 angel halo|🥰 love hearts|😍 heart eyes love|🤩 star struck|😘 kiss|😗 kiss|😚 kiss|😙 kiss|😋 yum tasty|😛 tongue|😜 wink tongue|🤪 zany crazy|😝 tongue|🤑 money|🤗 hug|🤭 oops giggle|🤫 shush quiet|🤔 think hmm|🤐 zip|🤨 raised eyebrow|😐 neutral|😑 expressionless|😶 silent|😏 smirk|😒 unamused|🙄 eye roll|😬 grimace|😌 relieved|😔 pensive sad|😪 sleepy|🤤 drool|😴 sleep|😷 mask sick|🤒 fever sick|🤕 hurt|🤢 nausea|🤮 vomit|🤧 sneeze|🥵 hot|🥶 cold|🥴 woozy|😵 dizzy|🤯 mind blown|🤠 cowboy|🥳 party celebrate|😎 cool sunglasses|🤓 nerd|🧐 monocle|😕 confused|😟 worried|🙁 frown|😮 wow open mouth|😯 hushed|😲 astonished|😳 flushed|🥺 pleading|😦 frown|😧 anguish|😨 fear|😰 anxious|😥 sad relieved|😢 cry sad|😭 sob cry|😱 scream|😖 confounded|😣 persevere|😞 disappointed|😓 sweat|😩 weary|😫 tired|🥱 yawn|😤 triumph huff|😡 angry rage|😠 angry|🤬 swear|😈 devil|👿 imp|💀 skull dead|💩 poop|🤡 clown|👻 ghost|👽 alien|🤖 robot|😺 cat smile|😸 cat grin|😹 cat joy|😻 cat love|🙈 see no evil monkey|🙉 hear no evil|🙊 speak no evil|💋 kiss|💌 love letter|💘 heart arrow|💝 heart gift|💖 sparkling heart|💗 growing heart|💓 beating heart|💞 hearts|💕 two hearts|💟 heart|❣️ heart exclamation|💔 broken heart|❤️ red heart love|🧡 orange heart|💛 yellow heart|💚 green heart|💙 blue heart|💜 purple heart|🤎 brown heart|🖤 black heart|🤍 white heart|💯 hundred perfect|💢 anger|💥 boom|💫 dizzy star|💦 sweat drops|💨 dash|💬 speech|💭 thought|💤 zzz sleep|👋 wave hello bye|🤚 raised back hand|✋ raised hand stop|🖖 vulcan|👌 ok perfect|🤌 pinched|🤏 pinch small|✌️ victory peace|🤞 fingers crossed luck|🤟 love you|🤘 rock horns|🤙 call me|👈 left|👉 right|👆 up|👇 down|☝️ point up|👍 thumbs up yes like|👎 thumbs down no dislike|✊ fist|👊 punch|🤛 fist bump|🤜 fist bump|👏 clap applause|🙌 raised hands hooray|👐 open hands|🤲 palms|🤝 handshake deal|🙏 pray please thanks|✍️ write|💪 muscle strong|🧠 brain|👀 eyes look|👁️ eye|👶 baby|🧒 child|👦 boy|👧 girl|🧑 person|👨 man|👩 woman|🧓 older|🙋 raise hand|🤷 shrug|🤦 facepalm|🙇 bow|💁 tipping hand|🙅 no gesture|🙆 ok gesture|🎉 tada party celebrate|🎊 confetti|🎈 balloon|🎁 gift present|🎂 cake birthday|🍰 cake|🏆 trophy win|🥇 gold medal first|⭐ star|🌟 glowing star|✨ sparkles|🔥 fire lit hot|⚡ zap lightning|☀️ sun|🌈 rainbow|☔ umbrella rain|❄️ snow|🌙 moon night|🌍 earth world|🌸 blossom flower|🌹 rose|🌻 sunflower|🍀 clover luck|🌱 seedling|🐶 dog|🐱 cat|🐭 mouse|🐰 rabbit|🦊 fox|🐻 bear|🐼 panda|🐨 koala|🦁 lion|🐮 cow|🐷 pig|🐸 frog|🐵 monkey|🐔 chicken|🐧 penguin|🐦 bird|🦄 unicorn|🐝 bee|🦋 butterfly|🐢 turtle|🐍 snake|🐙 octopus|🐳 whale|🍎 apple|🍌 banana|🍓 strawberry|🍉 watermelon|🍕 pizza|🍔 burger|🍟 fries|🌮 taco|🍣 sushi|🍜 noodles ramen|🍿 popcorn|🍩 donut|🍪 cookie|🍫 chocolate|☕ coffee|🍵 tea|🍺 beer|🍻 cheers beers|🥂 cheers toast|🍷 wine|🍸 cocktail|⚽ soccer football|🏀 basketball|🎾 tennis|🎮 game|🎲 dice|🎯 target bullseye|🎵 music note|🎶 music|🎸 guitar|🎧 headphones|🎤 microphone|🎬 film|📷 camera|📞 phone call|📱 mobile phone|💻 laptop computer|⌨️ keyboard|🖥️ desktop|💡 idea bulb|📚 books|📖 book|📝 memo note|📌 pin|📎 paperclip|✂️ scissors|🔒 lock|🔑 key|🔔 bell|📣 megaphone|📅 calendar|⏰ alarm clock|⌛ hourglass|🚀 rocket launch|✈️ plane travel|🚗 car|🚲 bike|🏠 home house|🏢 office|🏖️ beach|⛰️ mountain|💰 money bag|💸 money wings|💳 card|📈 chart up|📉 chart down|✅ check done yes|☑️ checkbox|✔️ check|❌ cross no|❎ cross|➕ plus|➖ minus|❓ question|❗ exclamation|⚠️ warning|🚫 forbidden|⛔ no entry|🆗 ok|🆕 new|🔴 red circle|🟢 green circle|🔵 blue circle|⬆️ up arrow|⬇️ down arrow|➡️ right arrow|⬅️ left arrow|🔁 repeat|🔄 refresh|💤 sleep|🫡 salute|🫶 heart hands|🥹 holding tears|😮‍💨 exhale|🫠 melting
`;

export interface EmojiEntry {
  emoji: string;
  words: string;
}

export const EMOJI: EmojiEntry[] = (() => {
  const seen = new Set<string>();
  const list: EmojiEntry[] = [];
  for (const item of TABLE.trim().split("|")) {
    const [emoji, ...words] = item.trim().split(" ");
    if (!emoji || seen.has(emoji)) continue;
    seen.add(emoji);
    list.push({ emoji, words: words.join(" ") });
  }
  return list;
})();

/** The quick row of reactions under the message menu. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

export function searchEmoji(query: string): EmojiEntry[] {
  const q = query.trim().toLowerCase();
  if (!q) return EMOJI;
  return EMOJI.filter((entry) => entry.words.split(" ").some((word) => word.startsWith(q)));
}
