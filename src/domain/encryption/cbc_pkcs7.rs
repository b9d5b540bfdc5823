//! CBC with PKCS#7 over any 128-bit RustCrypto block cipher. AES and ARIA differ only in the
//! block cipher, so the chaining, padding and their failure cases are written once, here.

use ::cbc::cipher::{
    block_padding::Pkcs7, consts::U16, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt,
    BlockModeEncrypt, BlockSizeUser, InnerIvInit, KeyInit,
};

use super::{DecryptError, FieldCipher};

/// Holds the expanded key, so a GATE with many fields schedules the key once.
pub(super) struct Cbc<C>(C);

impl<C> Cbc<C>
where
    C: KeyInit + BlockSizeUser<BlockSize = U16> + BlockCipherEncrypt + BlockCipherDecrypt,
    C: Clone + Send + Sync + 'static,
{
    /// `None` when the key has the wrong length for `C`.
    pub(super) fn boxed(key: &[u8]) -> Option<Box<dyn FieldCipher>> {
        let cipher = C::new_from_slice(key).ok()?;
        Some(Box::new(Cbc(cipher)))
    }
}

impl<C> FieldCipher for Cbc<C>
where
    C: BlockSizeUser<BlockSize = U16> + BlockCipherEncrypt + BlockCipherDecrypt,
    C: Clone + Send + Sync,
{
    fn encrypt(&self, iv: &[u8; 16], plain: &[u8]) -> Vec<u8> {
        ::cbc::Encryptor::inner_iv_init(self.0.clone(), iv.into())
            .encrypt_padded_vec::<Pkcs7>(plain)
    }

    fn decrypt(&self, iv: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, DecryptError> {
        // Told apart from bad padding: a cut value is a transport fault, not a key mismatch.
        if data.is_empty() || !data.len().is_multiple_of(16) {
            return Err(DecryptError::Length(data.len()));
        }
        ::cbc::Decryptor::inner_iv_init(self.0.clone(), iv.into())
            .decrypt_padded_vec::<Pkcs7>(data)
            .map_err(|_| DecryptError::Padding)
    }
}
