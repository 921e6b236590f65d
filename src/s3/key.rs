//! The object key of a notification, form-URL-decoded.

/// Decodes an object key as S3 writes it in a notification: `+` is a space, then `%XX` is the
/// byte `XX` (`red+flower.jpg` is `red flower.jpg`, `a%2Bb` is `a+b`, `caf%C3%A9` is `café`).
/// A `%` not followed by two hex digits is kept as it is, and bytes that do not form UTF-8
/// become U+FFFD.
///
/// ```
/// assert_eq!(helve::s3::decode_key("reports/red+flower+%2B+caf%C3%A9.jpg"), "reports/red flower + café.jpg");
/// ```
pub fn decode_key(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    if !bytes.iter().any(|&byte| byte == b'+' || byte == b'%') {
        return encoded.to_owned();
    }
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = |offset: usize| {
                    bytes
                        .get(index + offset)
                        .and_then(|&digit| char::from(digit).to_digit(16))
                };
                if let (Some(high), Some(low)) = (hex(1), hex(2)) {
                    // Two hex digits: at most 0xff.
                    decoded.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                    index += 3;
                    continue;
                }
                decoded.push(b'%');
            }
            other => decoded.push(other),
        }
        index += 1;
    }
    match String::from_utf8(decoded) {
        Ok(key) => key,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}
