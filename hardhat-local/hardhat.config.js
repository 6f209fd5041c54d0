// Hardhat 2 runs only as a second real node for the test suite (`npx hardhat node`); contracts are compiled
// by py-solc-x through solc-standard-json.js, not by Hardhat.
module.exports = {
  solidity: "0.8.28",
  networks: {
    hardhat: { chainId: 31337, hardfork: "cancun" },
  },
};
