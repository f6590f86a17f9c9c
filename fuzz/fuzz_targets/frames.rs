//! The frame parser on arbitrary multipart messages (frames split at 0xFF 0x00 markers):
//! never panics, and a parsed message re-encodes to frames that parse to the same message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zss::Message;

fuzz_target!(|data: &[u8]| {
    let frames: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    if let Ok(msg) = Message::from_frames(&frames) {
        if let Ok(out) = msg.to_frames() {
            let back = Message::from_frames(&out).expect("our own frames parse");
            assert_eq!(back.to_frames().expect("re-encodes"), out, "frames are stable");
        }
    }
});
