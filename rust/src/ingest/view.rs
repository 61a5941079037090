//! The read-only view of one parsed JSON value that the session logic is written against,
//! and its implementations for the two backends' values: simd-json's tape and serde_json's
//! `Value`.

use simd_json::prelude::*;

/// Read access to one parsed JSON value, all the session needs.
pub(crate) trait View<'a>: Copy {
    fn get(self, key: &str) -> Option<Self>;
    fn str(self) -> Option<&'a str>;
    fn u64(self) -> Option<u64>;
    fn items(self) -> Option<impl Iterator<Item = Self>>;

    fn get_str(self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(View::str)
    }
}

/// A value on simd-json's tape.
pub(crate) type TapeValue<'t, 'i> = simd_json::tape::Value<'t, 'i>;

impl<'t, 'i: 't> View<'t> for TapeValue<'t, 'i> {
    #[inline]
    fn get(self, key: &str) -> Option<Self> {
        TapeValue::get(&self, key)
    }
    #[inline]
    fn str(self) -> Option<&'t str> {
        ValueIntoString::into_string(self)
    }
    #[inline]
    fn u64(self) -> Option<u64> {
        ValueAsScalar::as_u64(&self)
    }
    #[inline]
    fn items(self) -> Option<impl Iterator<Item = Self>> {
        Some(self.as_array()?.iter())
    }
}

impl<'a> View<'a> for &'a serde_json::Value {
    #[inline]
    fn get(self, key: &str) -> Option<Self> {
        self.as_object()?.get(key)
    }
    #[inline]
    fn str(self) -> Option<&'a str> {
        self.as_str()
    }
    #[inline]
    fn u64(self) -> Option<u64> {
        self.as_u64()
    }
    #[inline]
    fn items(self) -> Option<impl Iterator<Item = Self>> {
        Some(self.as_array()?.iter())
    }
}
