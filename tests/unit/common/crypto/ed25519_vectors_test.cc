// RFC 8032 section 7.1 test vectors for pure Ed25519.

#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "common/crypto/encoding.h"
#include "common/crypto/keys.h"
#include "tests/testing/test_util.h"

namespace outpost::crypto {
namespace {

struct Rfc8032Vector {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};

// TEST 1024's message is 1023 bytes; the signature check fails if any byte is mistyped.
constexpr const char* kTest1024Message =
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77"
    "b1"
    "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b2032"
    "9d"
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e9"
    "3a"
    "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a3655"
    "3e"
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc"
    "10"
    "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7e"
    "d1"
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb3"
    "9d"
    "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f2"
    "70"
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d908"
    "9b"
    "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128"
    "ba"
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af896"
    "9b"
    "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acd"
    "b7"
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd98"
    "8d"
    "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34"
    "df"
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4ac"
    "a7"
    "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49"
    "e4"
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac"
    "09"
    "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc"
    "5f"
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f1"
    "61"
    "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb6860693738"
    "0d"
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8"
    "ca"
    "c60c905c15fc910840b94c00a0b9d0";

const Rfc8032Vector kVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9"
     "b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f1"
     "1d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984d"
     "c6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e", kTest1024Message,
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436"
     "d94b5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3fe"
     "ebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431"
     "e0303dca179c138ac17ad9bef1177331a704"},
};

std::string Unhex(const char* hex) {
  Result<std::string> bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : "";
}

class Rfc8032Test : public ::testing::TestWithParam<Rfc8032Vector> {};

TEST_P(Rfc8032Test, SignRawProducesTheRfcSignature) {
  const Rfc8032Vector& v = GetParam();
  Result<PrivateKey> key = PrivateKey::FromRawEd25519(Unhex(v.secret_key));
  ASSERT_OK(key);
  EXPECT_EQ(key->algorithm(), KeyAlgorithm::kEd25519);
  Result<std::string> signature = key->SignRaw(Unhex(v.message));
  ASSERT_OK(signature);
  EXPECT_EQ(HexEncode(*signature), v.signature);
}

TEST_P(Rfc8032Test, DerivedPublicKeyIsTheRfcPublicKey) {
  const Rfc8032Vector& v = GetParam();
  Result<PrivateKey> key = PrivateKey::FromRawEd25519(Unhex(v.secret_key));
  ASSERT_OK(key);
  // An Ed25519 SubjectPublicKeyInfo is a 12-byte header followed by the raw 32-byte key.
  const std::string der = key->public_key().ToDer();
  ASSERT_EQ(der.size(), 44u);
  EXPECT_EQ(HexEncode(der.substr(12)), v.public_key);
}

TEST_P(Rfc8032Test, VerifyRawAcceptsTheRfcSignature) {
  const Rfc8032Vector& v = GetParam();
  Result<PublicKey> key =
      PublicKey::FromDer(Unhex("302a300506032b6570032100") + Unhex(v.public_key));
  ASSERT_OK(key);
  EXPECT_OK(key->VerifyRaw(Unhex(v.message), Unhex(v.signature)));
}

TEST_P(Rfc8032Test, VerifyRawRejectsAFlippedSignatureBit) {
  const Rfc8032Vector& v = GetParam();
  Result<PublicKey> key =
      PublicKey::FromDer(Unhex("302a300506032b6570032100") + Unhex(v.public_key));
  ASSERT_OK(key);
  std::string signature = Unhex(v.signature);
  signature[10] ^= 0x01;
  Status s = key->VerifyRaw(Unhex(v.message), signature);
  EXPECT_EQ(s.code(), Errc::kInvalidArgument);
  EXPECT_NE(s.message().find("signature does not verify"), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(Section71, Rfc8032Test, ::testing::ValuesIn(kVectors),
                         [](const ::testing::TestParamInfo<Rfc8032Vector>& info) {
                           std::string name;
                           for (const char* p = info.param.name; *p; ++p) {
                             if (std::isalnum(static_cast<unsigned char>(*p))) name += *p;
                           }
                           return name;
                         });

TEST(Rfc8032Test1024, MessageIs1023Bytes) { EXPECT_EQ(Unhex(kTest1024Message).size(), 1023u); }

TEST(FromRawEd25519Test, RejectsASeedOfTheWrongLength) {
  Result<PrivateKey> key = PrivateKey::FromRawEd25519(std::string(31, 'x'));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Errc::kInvalidArgument);
  EXPECT_NE(key.status().message().find("32 bytes"), std::string::npos);
}

}  // namespace
}  // namespace outpost::crypto
